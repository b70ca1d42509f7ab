"""The models' own shortcuts agree with the attrs machinery they stand in for."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from meterlib.models import EventRecord, Grant, RolloverLot, RolloverRule


def _every_field_set() -> Grant:
    """A grant whose every field differs from its default, so a field left out shows."""
    return Grant(
        id="g1",
        seq=7,
        customer_id="c1",
        feature_id="messages",
        entity_id="e1",
        balance_id="b1",
        plan_id="pro",
        included=Decimal(100),
        unlimited=True,
        interval="month",
        interval_count=2,
        anchor=1_000,
        period=3,
        next_reset_at=9_000,
        rollover=RolloverRule(max=Decimal(50), duration="month", length=1),
        balance=Decimal(40),
        adjustment=Decimal(5),
        rollovers=(RolloverLot(id="g1/1", balance=Decimal(3), expires_at=8_000),),
        expires_at=99_000,
        created_at=500,
        overage_allowed=True,
        max_purchase=Decimal(20),
    )


def test_the_test_grant_sets_every_field() -> None:
    grant = _every_field_set()
    for field in attrs.fields(Grant):
        assert getattr(grant, field.name) != field.default, field.name


def test_deducted_is_evolve_of_balance_and_rollovers() -> None:
    grant = _every_field_set()
    lots = (RolloverLot(id="g1/2", balance=Decimal(1), expires_at=8_500),)
    got = grant.deducted(Decimal(-4), lots)
    assert got == attrs.evolve(grant, balance=Decimal(-4), rollovers=lots)
    assert grant.deducted(grant.balance, grant.rollovers) == grant


def test_moved_is_evolve_of_the_fields_it_names() -> None:
    grant = _every_field_set()
    got = grant.moved(
        balance=Decimal(1), rollovers=(), adjustment=Decimal(0), period=9, next_reset_at=None
    )
    assert got == attrs.evolve(
        grant,
        balance=Decimal(1),
        rollovers=(),
        adjustment=Decimal(0),
        period=9,
        next_reset_at=None,
    )


def test_moved_has_nothing_of_init_to_skip() -> None:
    """`moved` sets the fields without `__init__`: right only while Grant has no validators,
    converters or post-init hook that `__init__` would run."""
    for field in attrs.fields(Grant):
        assert field.validator is None and field.converter is None, field.name
    assert not hasattr(Grant, "__attrs_post_init__")
    assert not hasattr(Grant, "__attrs_pre_init__")


def test_moved_puts_each_value_in_its_own_field() -> None:
    """Distinct sentinels everywhere, so two fields' setters swapped would show."""
    sentinels: dict[str, Any] = {f.name: object() for f in attrs.fields(Grant)}
    grant = Grant(**sentinels)
    moving: dict[str, Any] = {
        name: object() for name in ("balance", "rollovers", "adjustment", "period", "next_reset_at")
    }
    got = grant.moved(**moving)
    for f in attrs.fields(Grant):
        assert getattr(got, f.name) is moving.get(f.name, sentinels[f.name]), f.name


def test_made_is_the_constructor() -> None:
    """`RolloverLot.made` builds what the constructor builds, each value in its own field."""
    lot = RolloverLot.made("g/1", Decimal("2.50"), 7)
    assert lot == RolloverLot(id="g/1", balance=Decimal("2.50"), expires_at=7)
    assert (lot.id, lot.balance, lot.usage, lot.expires_at) == ("g/1", Decimal("2.50"), 0, 7)
    assert RolloverLot.made("g/2", Decimal(1), None).expires_at is None
    for field in attrs.fields(RolloverLot):
        assert field.validator is None and field.converter is None, field.name
    assert not hasattr(RolloverLot, "__attrs_post_init__")


def test_event_made_is_the_constructor() -> None:
    """`EventRecord.made` puts each value in its own field, as the constructor does, and the
    constructor has nothing (validators, converters, hooks) that `made` skips."""
    sentinels: dict[str, Any] = {f.name: object() for f in attrs.fields(EventRecord)}
    made, built = EventRecord.made(**sentinels), EventRecord(**sentinels)
    for f in attrs.fields(EventRecord):
        assert getattr(made, f.name) is sentinels[f.name], f.name
        assert getattr(built, f.name) is sentinels[f.name], f.name
        assert f.validator is None and f.converter is None, f.name
    assert not hasattr(EventRecord, "__attrs_post_init__")
    assert not hasattr(EventRecord, "__attrs_pre_init__")
