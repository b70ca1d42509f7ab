"""The store contract's base (`Contract`: the `make_store()` hook) and its round trips: every
value a store keeps comes back equal, amounts digit for digit, instants to the millisecond, and
a put replaces the row of the same key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from meterlib.models import (
    Counter,
    DeductionRecord,
    LockItem,
    RolloverLot,
    RolloverRule,
)
from meterlib.stores.protocol import Store
from meterlib.testing.builders import (
    AMOUNTS,
    CREATED,
    T0,
    customer,
    entity,
    event,
    events,
    feature,
    grant,
    lock,
)


class Rollback(Exception):
    """Raised inside a transaction to abandon it."""


class Contract:
    """What every part of the store contract stands on; subclasses provide `make_store()`."""

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


class RoundTrips(Contract):
    """Every value a store keeps reads back as it was written."""

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
                    raise Rollback("abandon")
            except Rollback:
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
