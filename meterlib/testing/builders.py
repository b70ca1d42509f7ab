"""Values the store contract writes and reads back, built with defaults that make a valid row:
`feature`, `customer`, `entity`, `grant`, `lock`, `event`; `events` / `seqs` read a listing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from meterlib.models import (
    Customer,
    Entity,
    EventRecord,
    Feature,
    Grant,
    Lock,
    LockItem,
)
from meterlib.stores.protocol import StoreSession

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
