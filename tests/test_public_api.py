"""The public surface: what `import meterlib` offers is pinned, sorted and keyword-friendly."""

from __future__ import annotations

import inspect

import meterlib
from meterlib import Ledger

PUBLIC = [
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

# API.md: ids are positional, everything else keyword-only
POSITIONAL = {
    "create_feature": ["feature_id"],
    "create_customer": ["customer_id"],
    "create_entity": ["customer_id", "entity_id"],
    "create": ["customer_id", "feature_id"],
    "update": ["customer_id", "feature_id"],
    "delete": ["customer_id"],
    "balance": ["customer_id", "feature_id"],
    "balances": ["customer_id"],
    "flags": ["customer_id"],
    "check": ["customer_id", "feature_id"],
    "track": ["customer_id", "feature_id"],
    "batch_track": ["items"],
    "finalize": ["lock_id"],
    "events": ["customer_id"],
    "update_customer": ["customer_id"],
    "update_entity": ["customer_id", "entity_id"],
}


class TestPublicApi:
    """A change to the public surface is a decision, made here on purpose."""

    def test_all_is_pinned_and_sorted(self) -> None:
        """`meterlib.__all__` is exactly the pinned list, in sorted order."""
        assert meterlib.__all__ == PUBLIC
        assert sorted(PUBLIC) == PUBLIC

    def test_every_name_exists(self) -> None:
        """Every exported name can be imported."""
        for name in PUBLIC:
            assert getattr(meterlib, name) is not None

    def test_errors_share_one_base_with_stable_codes(self) -> None:
        """Every error class is a MeterError with a string code."""
        for name in PUBLIC:
            value = getattr(meterlib, name)
            if isinstance(value, type) and issubclass(value, Exception):
                assert issubclass(value, meterlib.MeterError)
                assert isinstance(value.code, str) and value.code

    def test_only_ids_are_positional(self) -> None:
        """The Ledger's calls take their ids positionally and everything else by keyword."""
        for method, ids in POSITIONAL.items():
            params = list(inspect.signature(getattr(Ledger, method)).parameters.values())[1:]
            positional = [
                p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
            ]
            assert positional == ids, method
