"""Test helpers for people writing their own Store: `StoreContract`, and `ManualClock`.

`StoreContract` is a plain class whose `test_*` methods use bare `assert`, so it needs no test
framework to import. Subclass it, give it a `make_store()` and the class name your runner
collects (`class TestMyStore(StoreContract)` for pytest), and every rule of
`meterlib.stores.protocol` runs against your store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from meterlib.clock import ManualClock
from meterlib.models import (
    Counter,
    Customer,
    DeductionRecord,
    Entity,
    EventRecord,
    Feature,
    Grant,
    Lock,
    LockItem,
    RolloverLot,
    RolloverRule,
)
from meterlib.stores.protocol import Store, StoreSession

__all__ = ["ManualClock", "StoreContract"]

T0 = 1_738_324_800_000  # 2025-01-31 12:00 UTC, in epoch ms
CREATED = datetime(2025, 1, 31, 12, 0, 0, 123_000, tzinfo=UTC)  # catalogue instants keep ms

# amounts a store must hand back digit for digit
AMOUNTS = (
    Decimal("0.1"),
    Decimal("1E-10"),
    Decimal("1.10"),
    Decimal("-0.0000000001"),
    Decimal("-42.5"),
    Decimal("0"),
    Decimal("123456789012345678901234567890.0123456789"),
    Decimal("1E+30"),
)


class _Rollback(Exception):
    """Raised inside a transaction to abandon it."""


def feature(feature_id: str = "api_calls", **kw: Any) -> Feature:
    """A metered feature."""
    return Feature(id=feature_id, **kw)


def customer(customer_id: str = "cus_1", **kw: Any) -> Customer:
    """A customer created at CREATED."""
    kw.setdefault("created_at", CREATED)
    return Customer(id=customer_id, **kw)


def entity(entity_id: str = "seat_1", customer_id: str = "cus_1", **kw: Any) -> Entity:
    """An entity of a customer, created at CREATED."""
    kw.setdefault("created_at", CREATED)
    return Entity(id=entity_id, customer_id=customer_id, **kw)


def grant(grant_id: str = "g1", seq: int = 1, customer_id: str = "cus_1", **kw: Any) -> Grant:
    """A grant of `api_calls`."""
    kw.setdefault("feature_id", "api_calls")
    return Grant(id=grant_id, seq=seq, customer_id=customer_id, **kw)


def lock(lock_id: str = "lk_1", customer_id: str = "cus_1", **kw: Any) -> Lock:
    """A lock of one unit of `api_calls`, with one item."""
    kw.setdefault("feature_id", "api_calls")
    kw.setdefault("entity_id", None)
    kw.setdefault("value", Decimal(1))
    kw.setdefault("created_at", T0)
    kw.setdefault(
        "items",
        (
            LockItem(
                grant_id="g1",
                rollover_id=None,
                cost=Decimal(1),
                balance_delta=Decimal(1),
                value_delta=Decimal(1),
            ),
        ),
    )
    return Lock(lock_id=lock_id, customer_id=customer_id, **kw)


def event(seq: int, timestamp: int = T0, customer_id: str = "cus_1", **kw: Any) -> EventRecord:
    """A usage event of one unit of `api_calls`."""
    kw.setdefault("entity_id", None)
    kw.setdefault("feature_id", "api_calls")
    kw.setdefault("event_name", None)
    kw.setdefault("value", Decimal(1))
    kw.setdefault("properties", {})
    return EventRecord(id=f"evt_{seq}", seq=seq, customer_id=customer_id, timestamp=timestamp, **kw)


def events(tx: StoreSession, **filters: Any) -> list[EventRecord]:
    """`list_events` with every filter defaulted to None and limit to 1000."""
    args: dict[str, Any] = dict.fromkeys(
        ("customer_id", "feature_id", "entity_id", "start", "end", "before")
    )
    args["limit"] = 1000
    args.update(filters)
    return tx.list_events(**args)


def seqs(found: list[EventRecord]) -> list[int]:
    """The seqs of some events, in the order given."""
    return [e.seq for e in found]


class StoreContract:
    """Every rule of the store protocol, as tests; subclasses provide `make_store()`."""

    def make_store(self) -> Store:
        """A new, empty store (the one hook)."""
        raise NotImplementedError

    @contextmanager
    def _store(self) -> Iterator[Store]:
        store = self.make_store()
        try:
            yield store
        finally:
            store.close()

    # --- round trips -----------------------------------------------------------------

    def test_feature_round_trip(self) -> None:
        """Features come back equal, with credit schemas exact and in the order given."""
        plain = feature("api_calls", name="API calls", event_names=("call", "request"), seq=1)
        flag = feature("sso", type="boolean", consumable=False, seq=2)
        credits = feature(
            "credits",
            type="credit_system",
            credit_schema={"zeta": Decimal("0.1"), "alpha": Decimal("1E-10")},
            seq=3,
        )
        with self._store() as store:
            with store.transaction() as tx:
                for f in (plain, flag, credits):
                    tx.add_feature(f)
            with store.transaction(write=False) as tx:
                assert tx.get_feature("api_calls") == plain
                assert tx.get_feature("sso") == flag
                got = tx.get_feature("credits")
                assert got == credits
                assert got is not None and got.credit_schema is not None
                assert list(got.credit_schema) == ["zeta", "alpha"]
                assert repr(got.credit_schema["alpha"]) == "Decimal('1E-10')"
                assert tx.get_feature("missing") is None

    def test_customer_round_trip(self) -> None:
        """Customers come back equal: nested metadata, Decimals and created_at to the ms."""
        metadata = {
            "plan": "pro",
            "seats": 3,
            "ratio": 0.25,
            "price": Decimal("0.1"),
            "tags": ["a", "é", None, True],
            "nested": {"limit": Decimal("-1E-10"), "__decimal__": "not a tag"},
            "looks_like_a_tag": {"__decimal__": "1"},
        }
        c = customer(
            "cus_1",
            name="Ada",
            email="ada@example.com",
            metadata=metadata,
            billing_controls={"spend_limit": Decimal("12.50")},
        )
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_customer(c)
                tx.put_customer(customer("cus_2"))
            with store.transaction(write=False) as tx:
                got = tx.get_customer("cus_1")
                assert got == c
                assert got is not None
                assert got.created_at == CREATED
                assert got.created_at.utcoffset() is not None
                assert repr(got.metadata["price"]) == "Decimal('0.1')"
                assert got.metadata["looks_like_a_tag"] == {"__decimal__": "1"}
                assert repr(got.billing_controls["spend_limit"]) == "Decimal('12.50')"
                assert tx.get_customer("cus_2") == customer("cus_2")
                assert tx.get_customer("missing") is None

    def test_entity_round_trip(self) -> None:
        """Entities are keyed by (customer_id, id) and listed per customer in id order."""
        seat_b = entity("seat_b", "cus_1", feature_id="seats", name="B")
        seat_a = entity("seat_a", "cus_1", billing_controls={"cap": Decimal("0.1")})
        other = entity("seat_a", "cus_2", name="someone else's")
        with self._store() as store:
            with store.transaction() as tx:
                for e in (seat_b, seat_a, other):
                    tx.put_entity(e)
            with store.transaction(write=False) as tx:
                assert tx.get_entity("cus_1", "seat_a") == seat_a
                assert tx.get_entity("cus_2", "seat_a") == other
                assert tx.get_entity("cus_1", "missing") is None
                assert tx.list_entities("cus_1") == [seat_a, seat_b]
                assert tx.list_entities("nobody") == []

    def test_grant_round_trip(self) -> None:
        """A grant with every field set, its rollover rule and lots, comes back equal."""
        g = grant(
            "g1",
            7,
            entity_id="seat_1",
            balance_id="bal_1",
            plan_id="pro",
            included=Decimal("1000.5"),
            unlimited=True,
            interval="month",
            interval_count=3,
            anchor=T0,
            period=2,
            next_reset_at=T0 + 86_400_000,
            rollover=RolloverRule(
                max=Decimal("500"), max_percentage=Decimal("0.5"), length=2, duration="forever"
            ),
            balance=Decimal("-42.5"),
            adjustment=Decimal("-0.1"),
            rollovers=(
                RolloverLot(id="ro_1", balance=Decimal("1E-10"), usage=Decimal("0.3")),
                RolloverLot(id="ro_2", balance=Decimal("2"), expires_at=T0 + 1),
            ),
            expires_at=T0 + 2,
            created_at=T0 - 1,
            overage_allowed=True,
            max_purchase=Decimal("99.99"),
        )
        bare = grant("g2", 8)
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_grants([g, bare])
            with store.transaction(write=False) as tx:
                assert tx.list_grants("cus_1") == [g, bare]

    def test_lock_round_trip(self) -> None:
        """A lock and its items and properties come back equal; unknown ids give None."""
        lk = lock(
            "lk_1",
            entity_id="seat_1",
            value=Decimal("2.5"),
            items=(
                LockItem(
                    grant_id="g1",
                    rollover_id="ro_1",
                    cost=Decimal("0.1"),
                    balance_delta=Decimal("0.25"),
                    value_delta=Decimal("2.5"),
                ),
                LockItem(
                    grant_id="g2",
                    rollover_id=None,
                    cost=Decimal(1),
                    balance_delta=Decimal("-1E-10"),
                    value_delta=Decimal("-1E-10"),
                ),
            ),
            expires_at=T0 + 60_000,
            properties={"request": "r1", "cost": Decimal("0.1")},
        )
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_lock(lk)
            with store.transaction(write=False) as tx:
                assert tx.get_lock("lk_1") == lk
                assert tx.get_lock("missing") is None

    def test_event_round_trip(self) -> None:
        """An event with deductions, properties and an idempotency key comes back equal."""
        e = event(
            1,
            entity_id="seat_1",
            event_name="call",
            value=Decimal("0.1"),
            properties={"model": "large", "tokens": Decimal("1E+3"), "list": [1, 2.5]},
            idempotency_key="req-1",
            deductions=(
                DeductionRecord(
                    feature_id="credits",
                    balance_id="bal_1",
                    value=Decimal("1E-10"),
                    plan_id="pro",
                    interval="month",
                    interval_count=2,
                    resets_at=T0 + 5,
                ),
                DeductionRecord(feature_id="api_calls", balance_id="g2", value=Decimal("-3")),
            ),
        )
        with self._store() as store:
            with store.transaction() as tx:
                tx.add_event(e)
            with store.transaction(write=False) as tx:
                assert events(tx) == [e]

    def test_counter_round_trip(self) -> None:
        """Counters come back exact, per customer in key order, replaced by (customer, key),
        and are undone with their transaction."""
        windowed = Counter(
            customer_id="cus_1",
            key='usage_window:[null,"api_calls","model=é"]',
            value=Decimal("1E-10"),
            window_start=T0,
            window_end=T0 + 86_400_000,
        )
        bare = Counter(customer_id="cus_1", key="auto_topup:a", value=Decimal("-0.0"))
        other = Counter(customer_id="cus_2", key="auto_topup:a", value=Decimal("1E+30"))
        with self._store() as store:
            with store.transaction(write=False) as tx:
                assert tx.list_counters("cus_1") == []
            with store.transaction() as tx:
                tx.put_counters([windowed, bare, other])
            with store.transaction(write=False) as tx:
                got = tx.list_counters("cus_1")
                assert got == [bare, windowed]
                assert [repr(c.value) for c in got] == ["Decimal('-0.0')", "Decimal('1E-10')"]
                assert repr(tx.list_counters("cus_2")[0].value) == "Decimal('1E+30')"
            moved = Counter(customer_id="cus_1", key=windowed.key, value=Decimal(7))
            with store.transaction() as tx:
                tx.put_counters([moved])
                tx.put_counters([])
            try:
                with store.transaction() as tx:
                    tx.put_counters([Counter(customer_id="cus_1", key="zz", value=Decimal(1))])
                    raise _Rollback("abandon")
            except _Rollback:
                pass
            with store.transaction(write=False) as tx:
                assert tx.list_counters("cus_1") == [bare, moved]

    def test_idempotency_keys(self) -> None:
        """A key reads None until claimed, then its expiry; a new claim replaces the old one."""
        with self._store() as store:
            with store.transaction() as tx:
                assert tx.get_idempotency_key("k") is None
                tx.put_idempotency_key("k", T0)
                tx.put_idempotency_key("other", T0 + 5)
            with store.transaction() as tx:
                assert tx.get_idempotency_key("k") == T0
                tx.put_idempotency_key("k", T0 + 86_400_000)
            with store.transaction(write=False) as tx:
                assert tx.get_idempotency_key("k") == T0 + 86_400_000
                assert tx.get_idempotency_key("other") == T0 + 5
                assert tx.get_idempotency_key("K") is None

    def test_amounts_are_exact(self) -> None:
        """Every amount comes back as the same Decimal, digit for digit (never a float)."""
        grants = [grant(f"g{i}", i, balance=a, included=-a) for i, a in enumerate(AMOUNTS)]
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_grants(grants)
                tx.add_event(event(1, value=AMOUNTS[0], properties={"amounts": list(AMOUNTS)}))
            with store.transaction(write=False) as tx:
                got = tx.list_grants("cus_1")
                (ev,) = events(tx)
        assert [repr(g.balance) for g in got] == [repr(a) for a in AMOUNTS]
        assert [repr(g.included) for g in got] == [repr(-a) for a in AMOUNTS]
        assert [repr(a) for a in ev.properties["amounts"]] == [repr(a) for a in AMOUNTS]

    def test_instants_are_exact(self) -> None:
        """Epoch-ms instants come back unchanged, from before 1970 to the year 9999."""
        instants = [0, 1, -86_400_001, T0, 253_402_300_799_999]
        with self._store() as store:
            with store.transaction() as tx:
                for i, ms in enumerate(instants):
                    tx.put_grants([grant(f"g{i}", i, anchor=ms, next_reset_at=ms, expires_at=ms)])
                    tx.add_event(event(i, timestamp=ms))
                tx.put_idempotency_key("k", instants[-1])
            with store.transaction(write=False) as tx:
                got = tx.list_grants("cus_1")
                assert [g.anchor for g in got] == instants
                assert [g.next_reset_at for g in got] == instants
                assert [g.expires_at for g in got] == instants
                assert sorted(e.timestamp for e in events(tx)) == sorted(instants)
                assert tx.get_idempotency_key("k") == instants[-1]

    # --- insert or replace -----------------------------------------------------------

    def test_put_replaces_by_key(self) -> None:
        """Putting a customer, entity, grant or lock again replaces the stored one."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_customer(customer("cus_1", name="old"))
                tx.put_entity(entity("seat_1", name="old"))
                tx.put_grants([grant("g1", 1, balance=Decimal(5)), grant("g2", 2)])
                tx.put_lock(lock("lk_1", value=Decimal(1)))
            with store.transaction() as tx:
                tx.put_customer(customer("cus_1", name="new", metadata={"v": 2}))
                tx.put_entity(entity("seat_1", name="new"))
                tx.put_grants([grant("g1", 1, balance=Decimal("4.5"))])
                tx.put_lock(lock("lk_1", value=Decimal(3)))
            with store.transaction(write=False) as tx:
                assert tx.get_customer("cus_1") == customer("cus_1", name="new", metadata={"v": 2})
                assert tx.list_customers() == [customer("cus_1", name="new", metadata={"v": 2})]
                assert tx.list_entities("cus_1") == [entity("seat_1", name="new")]
                assert tx.list_grants("cus_1") == [
                    grant("g1", 1, balance=Decimal("4.5")),
                    grant("g2", 2),
                ]
                assert tx.list_locks("cus_1") == [lock("lk_1", value=Decimal(3))]

    # --- orders and filters ----------------------------------------------------------

    def test_list_features_in_seq_order(self) -> None:
        """Features are listed by seq, not by id or insertion."""
        with self._store() as store:
            with store.transaction() as tx:
                for fid, seq in (("b", 3), ("c", 1), ("a", 2)):
                    tx.add_feature(feature(fid, seq=seq))
            with store.transaction(write=False) as tx:
                assert [f.id for f in tx.list_features()] == ["c", "a", "b"]

    def test_list_customers_in_id_order(self) -> None:
        """Customers are listed by id."""
        with self._store() as store:
            with store.transaction() as tx:
                for cid in ("cus_b", "cus_c", "cus_a", "Cus_z"):
                    tx.put_customer(customer(cid))
            with store.transaction(write=False) as tx:
                assert [c.id for c in tx.list_customers()] == ["Cus_z", "cus_a", "cus_b", "cus_c"]

    def test_list_grants_per_customer_in_seq_order(self) -> None:
        """A customer's grants, its entities' and expired ones included, come in seq order."""
        mine = [
            grant("g_c", 3, expires_at=T0 - 1),
            grant("g_a", 1, entity_id="seat_1"),
            grant("g_b", 2),
        ]
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_grants(mine)
                tx.put_grants(iter([grant("g_other", 0, customer_id="cus_2")]))
            with store.transaction(write=False) as tx:
                assert [g.id for g in tx.list_grants("cus_1")] == ["g_a", "g_b", "g_c"]
                assert [g.id for g in tx.list_grants("cus_2")] == ["g_other"]
                assert tx.list_grants("nobody") == []

    def test_delete_grants(self) -> None:
        """Deleted grants (and their rollovers) are gone; unknown ids are ignored."""
        lots = (RolloverLot(id="ro_1", balance=Decimal(1)),)
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_grants([grant("g1", 1, rollovers=lots), grant("g2", 2), grant("g3", 3)])
                tx.put_grants([grant("h1", 4, customer_id="cus_2")])
            with store.transaction() as tx:
                tx.delete_grants(iter(["g1", "h1", "nope"]))
                tx.delete_grants([])
            with store.transaction(write=False) as tx:
                assert [g.id for g in tx.list_grants("cus_1")] == ["g2", "g3"]
                assert tx.list_grants("cus_2") == []
            with store.transaction() as tx:
                tx.put_grants([grant("g1", 1)])
            with store.transaction(write=False) as tx:
                assert tx.list_grants("cus_1")[0] == grant("g1", 1)

    def test_locks_per_customer_in_creation_order(self) -> None:
        """Open locks are listed per customer by (created_at, lock_id); deleted ones vanish."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_lock(lock("lk_b", created_at=T0))
                tx.put_lock(lock("lk_c", created_at=T0 - 1))
                tx.put_lock(lock("lk_a", created_at=T0))
                tx.put_lock(lock("lk_x", customer_id="cus_2"))
            with store.transaction(write=False) as tx:
                assert [x.lock_id for x in tx.list_locks("cus_1")] == ["lk_c", "lk_a", "lk_b"]
            with store.transaction() as tx:
                tx.delete_lock("lk_a")
                tx.delete_lock("missing")
            with store.transaction(write=False) as tx:
                assert [x.lock_id for x in tx.list_locks("cus_1")] == ["lk_c", "lk_b"]
                assert tx.get_lock("lk_a") is None
                assert [x.lock_id for x in tx.list_locks("cus_2")] == ["lk_x"]
                assert tx.list_locks("nobody") == []

    def _with_events(self, store: Store, recorded: list[EventRecord]) -> None:
        with store.transaction() as tx:
            for e in recorded:
                tx.add_event(e)

    def test_events_newest_first(self) -> None:
        """Events come newest first by (timestamp, seq), whatever order they were added in."""
        recorded = [event(3, T0), event(1, T0 + 5), event(2, T0), event(4, T0 - 5)]
        with self._store() as store:
            self._with_events(store, recorded)
            with store.transaction(write=False) as tx:
                assert seqs(events(tx)) == [1, 3, 2, 4]
                assert seqs(events(tx, limit=2)) == [1, 3]
                assert seqs(events(tx, limit=1)) == [1]

    def test_events_before_cursor(self) -> None:
        """`before=(timestamp, seq)` keeps only strictly older events, and pages cover all."""
        recorded = [event(s, T0 + (s // 3)) for s in range(1, 11)]
        with self._store() as store:
            self._with_events(store, recorded)
            with store.transaction(write=False) as tx:
                assert seqs(events(tx, before=(T0 + 1, 4))) == [3, 2, 1]
                assert seqs(events(tx, before=(T0 + 1, 5))) == [4, 3, 2, 1]
                assert seqs(events(tx, before=(T0 + 2, 0))) == [5, 4, 3, 2, 1]
                pages: list[int] = []
                cursor: tuple[int, int] | None = None
                while True:
                    page = events(tx, before=cursor, limit=3)
                    if not page:
                        break
                    pages += seqs(page)
                    cursor = (page[-1].timestamp, page[-1].seq)
                assert pages == list(range(10, 0, -1))

    def test_events_window_start_inclusive_end_exclusive(self) -> None:
        """`start` is inclusive and `end` exclusive."""
        recorded = [event(s, T0 + s) for s in range(1, 6)]
        with self._store() as store:
            self._with_events(store, recorded)
            with store.transaction(write=False) as tx:
                assert seqs(events(tx, start=T0 + 2, end=T0 + 4)) == [3, 2]
                assert seqs(events(tx, start=T0 + 5)) == [5]
                assert seqs(events(tx, end=T0 + 1)) == []
                assert seqs(events(tx, start=T0 + 2, end=T0 + 5, before=(T0 + 4, 4))) == [3, 2]

    def test_events_filters(self) -> None:
        """Customer, entity and feature filters; a feature matches an event or its deductions."""
        via_credits = (DeductionRecord(feature_id="credits", balance_id="b", value=Decimal(2)),)
        recorded = [
            event(1, T0 + 1, feature_id="api_calls"),
            event(2, T0 + 2, feature_id="tokens", deductions=via_credits),
            event(3, T0 + 3, feature_id=None, deductions=via_credits, entity_id="seat_1"),
            event(4, T0 + 4, customer_id="cus_2", feature_id="credits"),
            event(5, T0 + 5, feature_id="api_calls", entity_id="seat_2"),
        ]
        with self._store() as store:
            self._with_events(store, recorded)
            with store.transaction(write=False) as tx:
                assert seqs(events(tx, customer_id="cus_1")) == [5, 3, 2, 1]
                assert seqs(events(tx, customer_id="cus_2")) == [4]
                assert seqs(events(tx, feature_id="credits")) == [4, 3, 2]
                assert seqs(events(tx, customer_id="cus_1", feature_id="credits")) == [3, 2]
                assert seqs(events(tx, feature_id="tokens")) == [2]
                assert seqs(events(tx, feature_id="api_calls", entity_id="seat_2")) == [5]
                assert seqs(events(tx, customer_id="cus_1", entity_id="seat_1")) == [3]
                assert seqs(events(tx, feature_id="cred")) == []
                assert seqs(events(tx, customer_id="nobody")) == []

    # --- sequences and transactions --------------------------------------------------

    def test_next_seq_is_monotone_per_kind(self) -> None:
        """`next_seq` grows strictly per kind, within and across transactions; an event seq
        is larger than every stored event's."""
        with self._store() as store:
            with store.transaction() as tx:
                grants_1 = [tx.next_seq("grant") for _ in range(3)]
                events_1 = [tx.next_seq("event") for _ in range(2)]
                tx.add_event(event(events_1[-1]))
            with store.transaction() as tx:
                grants_2 = [tx.next_seq("grant") for _ in range(2)]
                event_2 = tx.next_seq("event")
                tx.add_event(event(event_2))
                event_3 = tx.next_seq("event")
                feature_1 = tx.next_seq("feature")
            with store.transaction() as tx:
                event_4 = tx.next_seq("event")
        found = grants_1 + grants_2
        assert found == sorted(set(found))
        assert events_1[0] < events_1[1] < event_2 < event_3
        assert event_4 > event_2
        assert isinstance(feature_1, int)

    def test_rollback_on_exception(self) -> None:
        """An exception inside a transaction undoes all of it and propagates unchanged."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_customer(customer("cus_1", name="kept"))
                tx.put_grants([grant("g1", 1, balance=Decimal(5))])
                tx.put_lock(lock("lk_1"))
                last_seq = tx.next_seq("event")
                tx.add_event(event(last_seq))
                tx.put_idempotency_key("k", T0)
            before = self._snapshot(store)
            error = _Rollback("abandon")
            try:
                with store.transaction() as tx:
                    tx.add_feature(feature("new", seq=1))
                    tx.put_customer(customer("cus_1", name="changed"))
                    tx.put_customer(customer("cus_2"))
                    tx.put_entity(entity("seat_1"))
                    tx.put_grants([grant("g1", 1, balance=Decimal(0)), grant("g2", 2)])
                    tx.delete_lock("lk_1")
                    tx.put_lock(lock("lk_2"))
                    tx.add_event(event(tx.next_seq("event")))
                    tx.put_idempotency_key("k", T0 + 1)
                    tx.put_idempotency_key("k2", T0 + 1)
                    tx.next_seq("event")
                    tx.delete_grants(["g1"])
                    raise error
            except _Rollback as caught:
                assert caught is error
            else:
                raise AssertionError("the exception did not propagate")
            assert self._snapshot(store) == before
            with store.transaction() as tx:
                assert tx.next_seq("event") > last_seq

    def test_reads_see_own_writes_and_commits(self) -> None:
        """A transaction sees its own writes; a later read transaction sees committed data."""
        with self._store() as store:
            with store.transaction() as tx:
                tx.put_customer(customer("cus_1"))
                tx.put_grants([grant("g1", 1)])
                assert tx.get_customer("cus_1") == customer("cus_1")
                assert tx.list_grants("cus_1") == [grant("g1", 1)]
            with store.transaction(write=False) as tx:
                assert tx.get_customer("cus_1") == customer("cus_1")
                assert tx.list_grants("cus_1") == [grant("g1", 1)]
            with store.transaction() as tx:
                tx.put_grants([grant("g1", 1, balance=Decimal(-1))])
            with store.transaction(write=False) as tx:
                assert tx.list_grants("cus_1") == [grant("g1", 1, balance=Decimal(-1))]

    def _snapshot(self, store: Store) -> dict[str, object]:
        with store.transaction(write=False) as tx:
            return {
                "features": tx.list_features(),
                "customers": tx.list_customers(),
                "entities": tx.list_entities("cus_1"),
                "grants": [tx.list_grants(c) for c in ("cus_1", "cus_2")],
                "locks": tx.list_locks("cus_1"),
                "events": events(tx),
                "keys": [tx.get_idempotency_key(k) for k in ("k", "k2")],
            }
