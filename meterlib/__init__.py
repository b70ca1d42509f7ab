"""meterlib: per-customer feature balances with Autumn's semantics, in-process.

`Ledger` is the entry point; see the README for a tour.
"""

from __future__ import annotations

from meterlib.catalogue_edits import CustomerPage, EntityPage
from meterlib.clock import ManualClock
from meterlib.effects import TopupRequest
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
from meterlib.hourly_totals import PruneReport
from meterlib.ledger import Ledger
from meterlib.models import Customer, Entity, Feature
from meterlib.notifications import Notification
from meterlib.results import (
    Balance,
    BreakdownItem,
    CheckResult,
    Deduction,
    Event,
    EventPage,
    Flag,
    GrantRow,
    Preview,
    Reset,
    Rollover,
    TrackResult,
    UsageWindow,
)
from meterlib.stores.memory import MemoryStore
from meterlib.stores.protocol import Store, StoreSession
from meterlib.stores.sqlite.store import SQLiteStore

__all__ = [
    "AlreadyExists",
    "Balance",
    "BalanceNotFound",
    "BreakdownItem",
    "CheckResult",
    "Customer",
    "CustomerNotFound",
    "CustomerPage",
    "Deduction",
    "DuplicateIdempotencyKey",
    "Entity",
    "EntityNotFound",
    "EntityPage",
    "Event",
    "EventPage",
    "Feature",
    "FeatureNotFound",
    "Flag",
    "GrantRow",
    "InvalidRequest",
    "Ledger",
    "LockNotFound",
    "ManualClock",
    "MemoryStore",
    "MeterError",
    "NotFound",
    "Notification",
    "Preview",
    "PruneReport",
    "Reset",
    "Rollover",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreSession",
    "TopupRequest",
    "TrackResult",
    "UsageWindow",
]
