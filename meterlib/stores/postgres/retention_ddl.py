"""The PostgreSQL migrations of retention (`{s}`: the quoted schema; see `rows.MIGRATIONS`)."""

# keys expire in the course of ordinary writes; this index finds the spent ones
KEY_EXPIRY = """
CREATE INDEX idempotency_keys_by_expiry ON {s}.idempotency_keys (expires_at);
"""

# what a prune keeps of the events it removes: their sums per customer, entity, tracked name
# and UTC hour (entity_id '' is none: a key column), and the instant events are pruned before
RETENTION = """
CREATE TABLE {s}.hourly_totals (
    customer_id text COLLATE "C" NOT NULL,
    entity_id text COLLATE "C" NOT NULL,
    name text COLLATE "C" NOT NULL,
    hour bigint NOT NULL,
    value numeric NOT NULL,
    events bigint NOT NULL,
    PRIMARY KEY (hour, customer_id, entity_id, name)
);
CREATE TABLE {s}.retention (
    key text PRIMARY KEY,
    value bigint NOT NULL
);
"""
