"""Errors: every bad input raises the right class and code before anything is written (API.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import meterlib
from meterlib import (
    AlreadyExists,
    BalanceNotFound,
    CustomerNotFound,
    DuplicateIdempotencyKey,
    EntityNotFound,
    FeatureNotFound,
    InvalidRequest,
    Ledger,
    LockNotFound,
    MeterError,
)

START = datetime(2025, 1, 31, 12, tzinfo=UTC)
NAIVE = datetime(2025, 1, 30, 12)  # no tzinfo
LATER = START + timedelta(days=3)
PAST = START - timedelta(days=1)
NAN = float("nan")
INF = float("inf")

Call = Callable[[Ledger], object]


@pytest.fixture
def seeded(ledger: Ledger) -> Ledger:
    """Two customers with grants, a flag, an entity, an event, a claimed key and a held lock."""
    ledger.create_feature("messages", name="Messages", event_names=("chat",))
    ledger.create_feature("sso", type="boolean")
    ledger.create_feature("seats", consumable=False)
    ledger.create("c1", "messages", included=100, reset="month", balance_id="m1")
    ledger.create("c1", "tokens", included=50, balance_id="t1")
    ledger.create("c1", "sso")
    ledger.create("c1", "seats", included=3)
    ledger.create("c1", "messages", included=10, entity_id="e1")
    ledger.create("c2", "messages", included=20)
    ledger.track("c1", "messages", value=5, idempotency_key="used")
    assert ledger.check("c1", "messages", required_balance=2, lock={"lock_id": "held"}).allowed
    return ledger


def snapshot(ledger: Ledger) -> dict[str, Any]:
    """Everything observable: catalogue, balances, flags, entity view, events."""
    return {
        "features": [f.to_dict() for f in ledger.list_features()],
        "customers": [ledger.get_customer(c).to_dict() for c in ("c1", "c2")],
        "balances": {
            c: {k: v.to_dict() for k, v in ledger.balances(c).items()} for c in ("c1", "c2")
        },
        "entity": {k: v.to_dict() for k, v in ledger.balances("c1", entity_id="e1").items()},
        "flags": {k: v.to_dict() for k, v in ledger.flags("c1").items()},
        "events": [e.to_dict() for e in ledger.events(limit=100).events],
    }


def case(name: str, call: Call, error: type[MeterError], code: str) -> Any:  # a pytest ParameterSet
    return pytest.param(call, error, code, id=name)


BAD_VALUES = [
    ("nan", NAN),
    ("inf", INF),
    ("-inf", -INF),
    ("decimal-nan", Decimal("NaN")),
    ("decimal-inf", Decimal("-Infinity")),
    ("str-nan", "NaN"),
    ("str-inf", "inf"),
    ("true", True),
    ("false", False),
    ("word", "abc"),
    ("empty-str", ""),
    ("list", [1]),
    ("dict", {"v": 1}),
]

CASES = [
    # track: numbers
    *[
        case(
            f"track-value-{n}",
            lambda lg, v=v: lg.track("c1", "messages", value=v),
            InvalidRequest,
            "invalid_inputs",
        )
        for n, v in BAD_VALUES
    ],
    # track: shape
    case(
        "track-both-feature-and-event",
        lambda lg: lg.track("c1", "messages", event_name="chat"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-neither-feature-nor-event",
        lambda lg: lg.track("c1"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-empty-event-name",
        lambda lg: lg.track("c1", event_name=""),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-empty-customer",
        lambda lg: lg.track("", "messages"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-int-customer",
        lambda lg: lg.track(123, "messages"),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-none-customer",
        lambda lg: lg.track(None, "messages"),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case("track-empty-feature", lambda lg: lg.track("c1", ""), InvalidRequest, "invalid_inputs"),
    case(
        "track-int-feature",
        lambda lg: lg.track("c1", 5),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-empty-entity",
        lambda lg: lg.track("c1", "messages", entity_id=""),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-naive-timestamp",
        lambda lg: lg.track("c1", "messages", timestamp=NAIVE),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-future-timestamp",
        lambda lg: lg.track("c1", "messages", timestamp=LATER),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-str-timestamp",
        lambda lg: lg.track("c1", "messages", timestamp="yesterday"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-nan-timestamp",
        lambda lg: lg.track("c1", "messages", timestamp=NAN),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-bool-timestamp",
        lambda lg: lg.track("c1", "messages", timestamp=True),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-properties-not-dict",
        lambda lg: lg.track("c1", "messages", properties="x"),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-bad-overage-behavior",
        lambda lg: lg.track("c1", "messages", overage_behavior="bogus"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-int-idempotency-key",
        lambda lg: lg.track("c1", "messages", idempotency_key=7),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "track-duplicate-key",
        lambda lg: lg.track("c1", "messages", idempotency_key="used"),
        DuplicateIdempotencyKey,
        "duplicate_idempotency_key",
    ),
    case(
        "track-unknown-customer",
        lambda lg: lg.track("ghost", "messages"),
        CustomerNotFound,
        "customer_not_found",
    ),
    case(
        "track-unknown-feature",
        lambda lg: lg.track("c1", "nope"),
        FeatureNotFound,
        "feature_not_found",
    ),
    case(
        "track-unknown-entity",
        lambda lg: lg.track("c1", "messages", entity_id="ghost"),
        EntityNotFound,
        "entity_not_found",
    ),
    case(
        "track-unknown-event-name",
        lambda lg: lg.track("c1", event_name="nobody"),
        FeatureNotFound,
        "feature_not_found",
    ),
    # create: numbers and shapes (on a new customer and feature: nothing may be auto-created)
    *[
        case(
            f"create-included-{n}",
            lambda lg, v=v: lg.create("new", "newfeat", included=v),
            InvalidRequest,
            "invalid_inputs",
        )
        for n, v in BAD_VALUES
    ],
    case(
        "create-negative-included",
        lambda lg: lg.create("new", "newfeat", included=-1),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-negative-alias",
        lambda lg: lg.create("new", "newfeat", included_grant="-0.5"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-unknown-interval",
        lambda lg: lg.create("new", "newfeat", included=1, reset="fortnight"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-unknown-interval-dict",
        lambda lg: lg.create("new", "newfeat", included=1, reset={"interval": "fortnight"}),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-reset-wrong-type",
        lambda lg: lg.create("new", "newfeat", included=1, reset=5),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-naive-expires-at",
        lambda lg: lg.create("new", "newfeat", included=1, expires_at=NAIVE),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-naive-next-reset-at",
        lambda lg: lg.create(
            "new", "newfeat", included=1, reset="month", next_reset_at=datetime(2025, 2, 10)
        ),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-str-expires-at",
        lambda lg: lg.create("new", "newfeat", included=1, expires_at="tomorrow"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-nan-max-purchase",
        lambda lg: lg.create("new", "newfeat", included=1, overage_allowed=True, max_purchase=NAN),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-str-unlimited",
        lambda lg: lg.create("new", "newfeat", unlimited="yes"),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-empty-customer",
        lambda lg: lg.create("", "newfeat", included=1),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-empty-feature",
        lambda lg: lg.create("new", "", included=1),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-empty-entity",
        lambda lg: lg.create("new", "newfeat", included=1, entity_id=""),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-empty-balance-id",
        lambda lg: lg.create("new", "newfeat", included=1, balance_id=""),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-int-customer",
        lambda lg: lg.create(1, "newfeat", included=1),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "create-unlimited-with-reset",
        lambda lg: lg.create("new", "newfeat", unlimited=True, reset="month"),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "create-next-reset-in-past",
        lambda lg: lg.create("new", "newfeat", included=1, reset="month", next_reset_at=PAST),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "create-next-reset-without-reset",
        lambda lg: lg.create("new", "newfeat", included=1, next_reset_at=LATER),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "create-rollover-without-reset",
        lambda lg: lg.create("new", "newfeat", included=1, rollover={"max": 5, "length": 1}),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "create-reused-balance-id",
        lambda lg: lg.create("c1", "messages", included=1, balance_id="t1"),
        AlreadyExists,
        "already_exists",
    ),
    case(
        "create-entity-grant-reused-id",
        lambda lg: lg.create("c1", "newfeat", included=1, entity_id="newent", balance_id="m1"),
        AlreadyExists,
        "already_exists",
    ),
    # update
    *[
        case(
            f"update-remaining-{n}",
            lambda lg, v=v: lg.update("c1", "messages", remaining=v),
            InvalidRequest,
            "invalid_inputs",
        )
        for n, v in BAD_VALUES
    ],
    case(
        "update-add-and-remaining",
        lambda lg: lg.update("c1", "messages", add_to_balance=1, remaining=5),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "update-usage-and-remaining",
        lambda lg: lg.update("c1", "messages", usage=1, remaining=5),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "update-negative-included",
        lambda lg: lg.update("c1", "messages", included=-1),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "update-unknown-interval",
        lambda lg: lg.update("c1", "messages", interval="fortnight", remaining=1),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "update-naive-expires-at",
        lambda lg: lg.update("c1", "messages", expires_at=NAIVE),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "update-past-expires-at",
        lambda lg: lg.update("c1", "messages", expires_at=PAST),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "update-one-off-boundary",
        lambda lg: lg.update("c1", "tokens", next_reset_at=LATER),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "update-unknown-balance-id",
        lambda lg: lg.update("c1", "messages", balance_id="nope", remaining=1),
        BalanceNotFound,
        "balance_not_found",
    ),
    case(
        "update-unknown-customer",
        lambda lg: lg.update("ghost", "messages", remaining=1),
        CustomerNotFound,
        "customer_not_found",
    ),
    case(
        "update-unknown-feature",
        lambda lg: lg.update("c1", "nope", remaining=1),
        FeatureNotFound,
        "feature_not_found",
    ),
    case(
        "update-empty-customer",
        lambda lg: lg.update("", "messages", remaining=1),
        InvalidRequest,
        "invalid_inputs",
    ),
    # delete
    case(
        "delete-recalculate-without-feature",
        lambda lg: lg.delete("c1", recalculate_balances=True),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "delete-unknown-interval",
        lambda lg: lg.delete("c1", feature_id="messages", interval="fortnight"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "delete-unknown-balance-id",
        lambda lg: lg.delete("c1", feature_id="messages", balance_id="nope"),
        BalanceNotFound,
        "balance_not_found",
    ),
    case(
        "delete-unknown-customer",
        lambda lg: lg.delete("ghost"),
        CustomerNotFound,
        "customer_not_found",
    ),
    case(
        "delete-unknown-feature",
        lambda lg: lg.delete("c1", feature_id="nope"),
        FeatureNotFound,
        "feature_not_found",
    ),
    case("delete-empty-customer", lambda lg: lg.delete(""), InvalidRequest, "invalid_inputs"),
    # check
    *[
        case(
            f"check-required-{n}",
            lambda lg, v=v: lg.check("c1", "messages", required_balance=v, send_event=True),
            InvalidRequest,
            "invalid_inputs",
        )
        for n, v in BAD_VALUES
    ],
    case(
        "check-send-event-boolean",
        lambda lg: lg.check("c1", "sso", send_event=True),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "check-lock-boolean",
        lambda lg: lg.check("c1", "sso", lock={"lock_id": "x"}),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "check-lock-non-consumable",
        lambda lg: lg.check("c1", "seats", lock={"lock_id": "x"}),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "check-lock-too-far",
        lambda lg: lg.check(
            "c1", "messages", lock={"lock_id": "x", "expires_at": START + timedelta(hours=25)}
        ),
        InvalidRequest,
        "invalid_request",
    ),
    case(
        "check-lock-naive-expiry",
        lambda lg: lg.check("c1", "messages", lock={"lock_id": "x", "expires_at": NAIVE}),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "check-lock-empty-id",
        lambda lg: lg.check("c1", "messages", lock={"lock_id": ""}),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "check-lock-missing-id",
        lambda lg: lg.check("c1", "messages", lock={}),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "check-lock-not-dict",
        lambda lg: lg.check("c1", "messages", lock="x"),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    # Autumn's code is lock_already_exists; API.md says already_exists (API.md wins)
    case(
        "check-lock-reused",
        lambda lg: lg.check("c1", "messages", lock={"lock_id": "held"}),
        AlreadyExists,
        "already_exists",
    ),
    case(
        "check-empty-customer",
        lambda lg: lg.check("", "messages", send_event=True),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "check-empty-entity",
        lambda lg: lg.check("c1", "messages", entity_id="", send_event=True),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "check-unknown-customer",
        lambda lg: lg.check("ghost", "messages", send_event=True),
        CustomerNotFound,
        "customer_not_found",
    ),
    case(
        "check-unknown-feature",
        lambda lg: lg.check("c1", "nope", send_event=True),
        FeatureNotFound,
        "feature_not_found",
    ),
    case(
        "check-unknown-entity",
        lambda lg: lg.check("c1", "messages", entity_id="ghost", send_event=True),
        EntityNotFound,
        "entity_not_found",
    ),
    # finalize
    case("finalize-unknown-lock", lambda lg: lg.finalize("nope"), LockNotFound, "lock_not_found"),
    case(
        "finalize-override-with-release",
        lambda lg: lg.finalize("held", action="release", override_value=1),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "finalize-unknown-action",
        lambda lg: lg.finalize("held", action="cancel"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "finalize-nan-override",
        lambda lg: lg.finalize("held", override_value=NAN),
        InvalidRequest,
        "invalid_inputs",
    ),
    case("finalize-empty-lock-id", lambda lg: lg.finalize(""), InvalidRequest, "invalid_inputs"),
    # batch_track: one bad item spoils the batch
    case(
        "batch-bad-value",
        lambda lg: lg.batch_track(
            [
                {"customer_id": "c1", "feature_id": "messages", "value": 3},
                {"customer_id": "c1", "feature_id": "messages", "value": NAN},
            ]
        ),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "batch-unknown-customer",
        lambda lg: lg.batch_track(
            [
                {"customer_id": "c2", "feature_id": "messages", "value": 3},
                {"customer_id": "ghost", "feature_id": "messages"},
            ]
        ),
        CustomerNotFound,
        "customer_not_found",
    ),
    case(
        "batch-used-key",
        lambda lg: lg.batch_track(
            [
                {"customer_id": "c2", "feature_id": "messages", "value": 3},
                {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "used"},
            ]
        ),
        DuplicateIdempotencyKey,
        "duplicate_idempotency_key",
    ),
    case(
        "batch-both-feature-and-event",
        lambda lg: lg.batch_track(
            [
                {"customer_id": "c2", "feature_id": "messages", "value": 3},
                {"customer_id": "c1", "feature_id": "messages", "event_name": "chat"},
            ]
        ),
        InvalidRequest,
        "invalid_inputs",
    ),
    # catalogue
    case(
        "feature-unknown-type",
        lambda lg: lg.create_feature("newfeat", type="bogus"),
        InvalidRequest,
        "invalid_inputs",
    ),
    case("feature-empty-id", lambda lg: lg.create_feature(""), InvalidRequest, "invalid_inputs"),
    case(
        "feature-bad-credit-cost",
        lambda lg: lg.create_feature(
            "newfeat", type="credit_system", credit_schema={"messages": "abc"}
        ),
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "feature-nan-credit-cost",
        lambda lg: lg.create_feature(
            "newfeat", type="credit_system", credit_schema={"messages": NAN}
        ),
        InvalidRequest,
        "invalid_inputs",
    ),
    case("customer-empty-id", lambda lg: lg.create_customer(""), InvalidRequest, "invalid_inputs"),
    case(
        "customer-int-id",
        lambda lg: lg.create_customer(5),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "customer-metadata-not-dict",
        lambda lg: lg.create_customer("new", metadata="x"),  # type: ignore[arg-type]
        InvalidRequest,
        "invalid_inputs",
    ),
    case(
        "entity-empty-id", lambda lg: lg.create_entity("c1", ""), InvalidRequest, "invalid_inputs"
    ),
    case(
        "entity-unknown-customer",
        lambda lg: lg.create_entity("ghost", "e9"),
        CustomerNotFound,
        "customer_not_found",
    ),
]


class TestBadInputChangesNothing:
    """A call that raises changes nothing: not balances, events, catalogue, keys or locks."""

    @pytest.mark.parametrize(("call", "error", "code"), CASES)
    def test_raises_and_leaves_the_ledger_unchanged(
        self, seeded: Ledger, call: Call, error: type[MeterError], code: str
    ) -> None:
        """The bad call raises its class and code, and the ledger is exactly as before."""
        before = snapshot(seeded)
        with pytest.raises(error) as info:
            call(seeded)
        assert info.value.code == code
        assert isinstance(info.value, MeterError)
        assert str(info.value)  # a message naming what was wrong
        assert snapshot(seeded) == before
        # nothing auto-created by a create that failed
        with pytest.raises(CustomerNotFound):
            seeded.get_customer("new")
        with pytest.raises(FeatureNotFound):
            seeded.get_feature("newfeat")
        with pytest.raises(EntityNotFound):
            seeded.balance("c1", "messages", entity_id="newent")
        # the held lock is still held and still finalizable
        seeded.finalize("held", action="release")
        messages = seeded.balance("c1", "messages")
        assert messages is not None
        assert {i.id: i.remaining for i in messages.breakdown} == {"m1": Decimal(95)}


class TestHierarchy:
    """Every error is a MeterError with a stable code, importable from meterlib (API.md, Errors)."""

    @pytest.mark.parametrize(
        ("name", "code"),
        [
            ("InvalidRequest", "invalid_inputs"),
            ("CustomerNotFound", "customer_not_found"),
            ("FeatureNotFound", "feature_not_found"),
            ("EntityNotFound", "entity_not_found"),
            ("BalanceNotFound", "balance_not_found"),
            ("LockNotFound", "lock_not_found"),
            ("DuplicateIdempotencyKey", "duplicate_idempotency_key"),
            ("AlreadyExists", "already_exists"),
            ("StoreError", "store_error"),
        ],
    )
    def test_exported_with_code(self, ledger: Ledger, name: str, code: str) -> None:
        """Each error class is exported from meterlib, subclasses MeterError, has its code."""
        cls = getattr(meterlib, name)
        assert issubclass(cls, meterlib.MeterError)
        assert cls.code == code

    def test_invalid_request_is_a_value_error(self, seeded: Ledger) -> None:
        """InvalidRequest is also a ValueError."""
        with pytest.raises(ValueError, match=r"\S"):
            seeded.track("c1", "messages", value=NAN)

    def test_not_found_is_a_lookup_error(self, seeded: Ledger) -> None:
        """The not-found errors are LookupErrors."""
        with pytest.raises(LookupError):
            seeded.track("ghost", "messages")

    def test_not_enough_balance_is_not_an_error(self, seeded: Ledger) -> None:
        """Asking for more than there is answers allowed=False or caps; it never raises."""
        assert seeded.check("c2", "messages", required_balance=21).allowed is False
        assert seeded.check("c2", "messages", required_balance=21, send_event=True).allowed is False
        seeded.track("c2", "messages", value=1000)
        b = seeded.balance("c2", "messages")
        assert b is not None
        assert (b.remaining, b.usage) == (Decimal(0), Decimal(20))
