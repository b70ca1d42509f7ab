"""`results.check_result` and `results.track_result` build their results slot by slot, past
attrs' `__init__`: right only while they set every field `__init__` takes, each to its own
value, and `__init__` has nothing else to do (no validators, converters or hooks)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from meterlib.results import CheckResult, TrackResult, check_result, track_result


def _sentinels(cls: type) -> dict[str, Any]:
    """A distinct object per `__init__` argument, by its name there (so that two fields'
    setters swapped would show)."""
    return {f.alias: object() for f in attrs.fields(cls) if f.init}


@pytest.mark.parametrize("cls", [CheckResult, TrackResult])
def test_init_has_nothing_to_skip(cls: type) -> None:
    for f in attrs.fields(cls):
        assert f.validator is None and f.converter is None, f.name
    assert not hasattr(cls, "__attrs_post_init__")
    assert not hasattr(cls, "__attrs_pre_init__")


def test_check_result_is_the_constructor() -> None:
    given = _sentinels(CheckResult)
    built, made = check_result(**given), CheckResult(**given)
    for f in attrs.fields(CheckResult):
        if f.init:
            assert object.__getattribute__(built, f.name) is given[f.alias], f.name
            assert object.__getattribute__(made, f.name) is given[f.alias], f.name


def test_track_result_is_the_constructor() -> None:
    given = _sentinels(TrackResult)
    built = track_result(*given.values())  # positional, in field order
    assert list(given) == ["customer_id", "entity_id", "event_name", "value", "details"]
    for f in attrs.fields(TrackResult):
        if f.init:
            assert object.__getattribute__(built, f.name) is given[f.alias], f.name


def test_deferred_fields_build_the_same() -> None:
    """A built result reads its deferred fields from `details`, as a constructed one does."""
    details = ("balance", "flag", "preview", "balances")
    given: dict[str, Any] = {
        "allowed": True,
        "customer_id": "c",
        "entity_id": None,
        "feature_id": "f",
        "required_balance": 1,
        "with_preview": False,
    }
    built = check_result(**given, details=lambda: details)
    made = CheckResult(**given, details=lambda: details)
    assert built == made
    assert (built.balance, built.flag, built.preview, built.balances) == details
