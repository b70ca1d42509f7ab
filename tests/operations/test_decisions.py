"""The decisions alone: each built from a hand-made CustomerState, with no store and no clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterlib.effects import Asks, TopupRequest
from meterlib.errors import (
    AlreadyExists,
    BalanceNotFound,
    CustomerNotFound,
    DuplicateIdempotencyKey,
    LockNotFound,
)
from meterlib.models import Grant, Lock
from meterlib.operations.check import CheckArgs, decide_deducting_check, decide_plain_check
from meterlib.operations.deletion import DeleteArgs, decide_delete
from meterlib.operations.finalize import FinalizeArgs, decide_finalize
from meterlib.operations.idempotency import DAY_MS
from meterlib.operations.track import TrackArgs, decide_batch, decide_track
from meterlib.operations.updates import UpdateArgs, decide_update
from meterlib.rules.context import Asked, Context
from meterlib.state import Catalogue, CustomerState
from meterlib.testing import T0, customer, feature, grant, lock

D = Decimal
CATALOGUE = Catalogue([feature("api_calls", seq=1), feature("credits", seq=2)])
CTX = Context(T0)
TOPUP = {
    "auto_topups": [{"feature_id": "credits", "enabled": True, "threshold": D(2), "quantity": D(5)}]
}


def state(
    *grants: Grant,
    locks: tuple[Lock, ...] = (),
    events: int = 1,
    claims: dict[str, int | None] | None = None,
    named: dict[str, Lock | None] | None = None,
    controls: dict[str, object] | None = None,
    customer_id: str = "cus_1",
) -> CustomerState:
    """The state a store would load for cus_1, `events` event numbers reserved from 41."""
    return CustomerState(
        customer_id,
        customer(customer_id, billing_controls=controls or {}),
        {},
        grants,
        locks,
        {},
        named or {},
        claims or {},
        {"event": tuple(range(41, 41 + events))} if events else {},
        CATALOGUE,
    )


def track(value: str = "1", *, key: str | None = None, feature_id: str = "api_calls") -> TrackArgs:
    return TrackArgs("cus_1", feature_id, None, D(value), None, {}, key, T0, "cap")


def check(required: str = "1", *, lock_id: str | None = None) -> CheckArgs:
    held = None if lock_id is None else (lock_id, None)
    return CheckArgs("cus_1", "api_calls", None, D(required), {}, held, False)


class TestTrack:
    def test_deducts_records_one_event_and_claims_its_key(self) -> None:
        decision = decide_track(state(grant(balance=D(5), included=D(5))), CTX, track(key="k"))
        effects = decision.effects
        assert [(g.id, g.balance) for g in effects.grants] == [("g1", D(4))]
        assert [(e.seq, e.value, e.idempotency_key) for e in effects.events] == [(41, D(1), "k")]
        assert effects.claims == (("track:k", T0 + DAY_MS),)
        assert decision.result.value == D(1)

    def test_the_same_state_decides_the_same(self) -> None:
        loaded = state(grant(balance=D(5), included=D(5)))
        assert decide_track(loaded, CTX, track()).effects == decide_track(loaded, CTX, track())[1]

    def test_a_held_key_is_refused(self) -> None:
        with pytest.raises(DuplicateIdempotencyKey):
            decide_track(state(grant(), claims={"track:k": T0 + 1}), CTX, track(key="k"))

    def test_an_expired_claim_is_taken_again(self) -> None:
        decision = decide_track(state(grant(), claims={"track:k": T0}), CTX, track(key="k"))
        assert decision.effects.claims == (("track:k", T0 + DAY_MS),)

    def test_no_customer(self) -> None:
        missing = state()._replace(customer=None)
        with pytest.raises(CustomerNotFound):
            decide_track(missing, CTX, track())

    def test_without_a_reserved_number_it_asks_for_one(self) -> None:
        with pytest.raises(Asked) as asked:
            decide_track(state(grant(balance=D(5)), events=0), CTX, track())
        assert asked.value.asks == Asks(seqs=(("event", 1),))
        answered = decide_track(
            state(grant(balance=D(5)), events=0), CTX._replace(seqs={"event": (7,)}), track()
        )
        assert [e.seq for e in answered.effects.events] == [7]

    def test_a_top_up_asks_for_approval_then_for_a_grant_number(self) -> None:
        low = state(grant("g1", feature_id="credits", balance=D(3)), controls=TOPUP)
        ctx = CTX._replace(approvals={})
        with pytest.raises(Asked) as asked:
            decide_track(low, ctx, track(feature_id="credits"))
        (request,) = asked.value.asks.approvals
        assert request == TopupRequest(
            customer_id="cus_1", feature_id="credits", quantity=D(5), threshold=D(2), balance=D(2)
        )
        approved = ctx._replace(approvals={request: None})
        with pytest.raises(Asked) as asked:
            decide_track(low, approved, track(feature_id="credits"))
        assert asked.value.asks == Asks(seqs=(("grant", 1),))
        done = decide_track(
            low, approved._replace(seqs={"grant": (9,)}), track(feature_id="credits")
        )
        added = {g.id: g.balance for g in done.effects.grants}
        assert added == {"g1": D(2), "grant_9": D(5)}
        assert done.effects.counters  # the attempt is counted

    def test_a_declined_top_up_adds_nothing(self) -> None:
        low = state(grant("g1", feature_id="credits", balance=D(3)), controls=TOPUP)
        request = TopupRequest(
            customer_id="cus_1", feature_id="credits", quantity=D(5), threshold=D(2), balance=D(2)
        )
        ctx = CTX._replace(approvals={request: "charge_failed"})
        done = decide_track(low, ctx, track(feature_id="credits"))
        assert [g.id for g in done.effects.grants] == ["g1"]

    def test_a_batch_numbers_events_in_item_order_across_customers(self) -> None:
        first = state(grant(balance=D(5)), events=3)
        second = state(
            grant("g2", customer_id="cus_2", balance=D(5)), events=0, customer_id="cus_2"
        )
        items = [track(), track()._replace(customer_id="cus_2"), track()]
        decision = decide_batch([first, second], CTX, items)
        seqs = {(e.customer_id, e.seq) for e in decision.effects.events}
        assert seqs == {("cus_1", 41), ("cus_2", 42), ("cus_1", 43)}
        assert {g.id: g.balance for g in decision.effects.grants} == {"g1": D(3), "g2": D(4)}

    def test_a_batch_refuses_its_own_key_twice(self) -> None:
        with pytest.raises(DuplicateIdempotencyKey):
            decide_batch([state(grant(), events=2)], CTX, [track(key="k"), track(key="k")])


class TestCheck:
    def test_a_plain_check_answers_and_may_be_recalled(self) -> None:
        decision = decide_plain_check(state(grant(balance=D(1))), CTX, check())
        assert decision.result.allowed
        assert not decision.effects
        assert decision.remember is None  # nothing changes with time alone

    def test_a_plain_check_of_a_locked_customer_is_not_kept(self) -> None:
        held = lock("lk_1", created_at=T0 - 1)
        decision = decide_plain_check(state(grant(balance=D(0)), locks=(held,)), CTX, check())
        assert not decision.result.allowed
        assert decision.remember is False

    def test_an_expiring_grant_holds_until_it_expires(self) -> None:
        expiring = grant(balance=D(1), expires_at=T0 + DAY_MS)
        decision = decide_plain_check(state(expiring), CTX, check())
        assert decision.remember == T0 + DAY_MS

    def test_a_locking_check_deducts_and_opens_the_lock(self) -> None:
        decision = decide_deducting_check(
            state(grant(balance=D(5)), named={"lk_1": None}), CTX, check("2", lock_id="lk_1")
        )
        assert decision.result.allowed
        (opened,) = decision.effects.locks
        assert (opened.lock_id, opened.value, opened.created_at) == ("lk_1", D(2), T0)
        assert [(i.grant_id, i.balance_delta) for i in opened.items] == [("g1", D(2))]

    def test_a_lock_id_in_use_is_refused(self) -> None:
        with pytest.raises(AlreadyExists):
            decide_deducting_check(
                state(grant(balance=D(5)), named={"lk_1": lock("lk_1", customer_id="other")}),
                CTX,
                check(lock_id="lk_1"),
            )

    def test_too_little_deducts_nothing(self) -> None:
        decision = decide_deducting_check(state(grant(balance=D(1))), CTX, check("2"))
        assert not decision.result.allowed
        assert not decision.effects


class TestLocks:
    def test_finalize_release_gives_back_what_the_lock_took(self) -> None:
        held = lock("lk_1", created_at=T0 - 1)
        loaded = state(grant(balance=D(4)), locks=(held,), named={"lk_1": held})
        decision = decide_finalize(loaded, CTX, FinalizeArgs("lk_1", "release", None, None))
        assert [(g.id, g.balance) for g in decision.effects.grants] == [("g1", D(5))]
        assert decision.effects.deleted_locks == ("lk_1",)
        assert [e.value for e in decision.effects.events] == [D(-1)]

    def test_an_expired_lock_is_released_at_its_instant_by_catching_up(self) -> None:
        held = lock("lk_1", created_at=T0 - 10, expires_at=T0 - 5)
        loaded = state(grant(balance=D(4)), locks=(held,), named={"lk_1": held}, events=2)
        with pytest.raises(LockNotFound):
            decide_finalize(loaded, CTX, FinalizeArgs("lk_1", "confirm", None, None))
        decision = decide_track(loaded, CTX, track("2"))
        assert decision.effects.deleted_locks == ("lk_1",)
        assert [(e.seq, e.timestamp, e.value) for e in decision.effects.events] == [
            (41, T0 - 5, D(-1)),
            (42, T0, D(2)),
        ]
        assert [g.balance for g in decision.effects.grants] == [D(3)]


class TestDelete:
    def test_removes_the_selected_grants(self) -> None:
        args = DeleteArgs("cus_1", "api_calls", None, None, None, False)
        decision = decide_delete(state(grant("g1"), grant("g2", 2)), CTX, args)
        assert set(decision.effects.deleted_grants) == {"g1", "g2"}

    def test_none_selected(self) -> None:
        args = DeleteArgs("cus_1", "api_calls", None, "nope", None, False)
        with pytest.raises(BalanceNotFound):
            decide_delete(state(grant()), CTX, args)


class TestUpdate:
    @staticmethod
    def args(**kw: object) -> UpdateArgs:
        fields: dict[str, object] = dict.fromkeys(UpdateArgs._fields)
        fields.update(customer_id="cus_1", feature_id="api_calls", **kw)
        return UpdateArgs(**fields)  # type: ignore[arg-type]

    def test_remaining_is_spread_in_deduction_order(self) -> None:
        loaded = state(grant("g1", balance=D(5), included=D(5)), grant("g2", 2, balance=D(5)))
        decision = decide_update(loaded, CTX, self.args(remaining=D(7)))
        assert {g.id: g.balance for g in decision.effects.grants} == {"g1": D(2)}
        assert decision.result is not None
        assert decision.result.remaining == D(7)

    def test_no_target(self) -> None:
        with pytest.raises(BalanceNotFound):
            decide_update(state(grant()), CTX, self.args(balance_id="nope", delta=D(1)))
