"""Autumn's operations, answered by a Ledger: the `Call` each handler takes, the table of
handlers by operation, and the one table from meterlib errors to HTTP.

Each handler takes a `Call` (the ledger, the parsed JSON body, the ledger's now) and returns
the JSON payload of a 200. The bridge is faithful where the native API is friendlier: it
checks that customers, entities and features exist before calling methods that would create
them, and it answers in Autumn's shapes, codes and statuses. The handlers live by resource:
`balances`, `customers` (customers and entities), `features_events`; `billing_controls`
holds the billing controls object customers and entities share.
"""

from __future__ import annotations

from meterlib.autumn.aggregate import aggregate
from meterlib.autumn.balances import (
    batch_track,
    check,
    create_balance,
    delete_balance,
    finalize,
    list_balances,
    track,
    update_balance,
)
from meterlib.autumn.call import Handler
from meterlib.autumn.customers import (
    create_entity,
    get_customer,
    get_entity,
    get_or_create_customer,
    update_customer,
    update_entity,
)
from meterlib.autumn.features_events import create_feature, get_feature, list_events, list_features
from meterlib.errors import (
    AlreadyExists,
    BalanceNotFound,
    CustomerNotFound,
    DuplicateIdempotencyKey,
    EntityNotFound,
    FeatureNotFound,
    InvalidRequest,
    LockNotFound,
    MeterError,
    NotFound,
    StoreError,
)

# meterlib error class and what the request was about -> (HTTP status, Autumn code).
# A code of None keeps the error's own `.code`. The subject None is the general rule; a
# handler names a subject ("lock", "event_name") when Autumn answers that case differently.
ERRORS: dict[tuple[type[MeterError], str | None], tuple[int, str | None]] = {
    (CustomerNotFound, None): (404, "customer_not_found"),
    (EntityNotFound, None): (404, "entity_not_found"),
    (FeatureNotFound, None): (404, "feature_not_found"),
    (FeatureNotFound, "event_name"): (404, "invalid_request"),
    (BalanceNotFound, None): (404, "invalid_request"),
    (LockNotFound, None): (400, "invalid_request"),
    (NotFound, None): (404, None),
    (DuplicateIdempotencyKey, None): (409, "duplicate_idempotency_key"),
    (AlreadyExists, None): (409, "already_exists"),
    (AlreadyExists, "lock"): (409, "lock_already_exists"),
    (AlreadyExists, "feature"): (409, "duplicate_feature_id"),
    (AlreadyExists, "entity"): (409, "entity_already_exists"),
    (InvalidRequest, None): (400, None),
    (StoreError, None): (500, "internal_error"),
    (MeterError, None): (400, None),  # never a 5xx for a caller's mistake: the SDK fails open
}


def status_and_code(exc: MeterError, subject: str | None) -> tuple[int, str]:
    """Where `exc` lands in `ERRORS`: the most specific class, the subject's rule first."""
    for cls in type(exc).__mro__:
        for key in ((cls, subject), (cls, None)):
            if key in ERRORS:
                status, code = ERRORS[key]
                return status, code if code is not None else exc.code
    return 400, exc.code  # pragma: no cover - MeterError itself is in the table


ROUTES: dict[str, Handler] = {
    "balances.check": check,
    "balances.track": track,
    "balances.batch_track": batch_track,
    "balances.finalize": finalize,
    "balances.create": create_balance,
    "balances.update": update_balance,
    "balances.delete": delete_balance,
    "balances.list": list_balances,
    "customers.get_or_create": get_or_create_customer,
    "customers.get": get_customer,
    "customers.update": update_customer,
    "entities.create": create_entity,
    "entities.get": get_entity,
    "entities.update": update_entity,
    "events.list": list_events,
    "features.create": create_feature,
    "features.get": get_feature,
    "features.list": list_features,
    # --- usage reports ---
    "events.aggregate": aggregate,
}
