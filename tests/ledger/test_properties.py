"""Hypothesis properties of track over any sequence of values (autumn-check-track §6.4)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import (
    any_rows,
    behaviors,
    consumptions,
    grants,
    inputs,
    overage_options,
    plain_rows,
    track_sequences,
    track_values,
)

from meterlib import Ledger

D = Decimal
ZERO = D(0)

# The `ledger` fixture is built once per test, not per example: every example works on a
# customer of its own, so examples cannot see each other.
FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_customers = itertools.count()


def fresh_customer() -> str:
    return f"prop-{next(_customers)}"


def step(
    b: Decimal,
    grant: Decimal,
    value: Decimal,
    behavior: str,
    *,
    overage: bool,
    max_purchase: Decimal | None,
) -> Decimal:
    """One track on a single grant, as §6.4 describes it: the signed balance afterwards."""
    if value > 0:
        take = min(value, max(ZERO, b))  # pass 1: never below 0
        b, rest = b - take, value - take
        if rest > 0 and (overage or behavior == "overflow"):  # pass 2
            if behavior == "overflow" or max_purchase is None:
                b -= rest
            else:
                b -= max(ZERO, min(rest, b + max_purchase))
        return b
    if value < 0:
        rest = -value
        heal = min(rest, max(ZERO, -b))  # pass 1: heal negatives up to 0
        b, rest = b + heal, rest - heal
        if behavior == "overflow":  # pass 2: no ceiling under overflow
            return b + rest
        return b + min(rest, max(ZERO, grant - b))  # pass 2: up to the grant
    return b


class TestConservation:
    """For grants without overage, tracked with cap, remaining + usage == included grant."""

    @FAST
    @given(grant=inputs(grants), seq=track_sequences())
    def test_single_grant(
        self, ledger: Ledger, grant: tuple[Decimal, object], seq: list[tuple[Decimal, str]]
    ) -> None:
        """After any sequence of tracks, remaining + usage == included, remaining in [0, grant]."""
        exact, given_as = grant
        c = fresh_customer()
        ledger.create(c, "messages", included=given_as)
        for value, behavior in seq:
            ledger.track(c, "messages", value=value, overage_behavior=behavior)
            b = ledger.balance(c, "messages")
            assert b is not None
            assert b.granted == exact
            assert b.remaining + b.usage == exact
            assert ZERO <= b.remaining <= exact

    @FAST
    @given(rows=plain_rows(), seq=track_sequences())
    def test_several_grants(
        self, ledger: Ledger, rows: list[dict[str, Any]], seq: list[tuple[Decimal, str]]
    ) -> None:
        """Per grant and in total, remaining + usage == included; no grant goes negative."""
        c = fresh_customer()
        for row in rows:
            ledger.create(c, "messages", **row)
        total = sum((row["included"] for row in rows), ZERO)
        included = {row["balance_id"]: row["included"] for row in rows}
        for value, behavior in seq:
            ledger.track(c, "messages", value=value, overage_behavior=behavior)
            b = ledger.balance(c, "messages")
            assert b is not None
            assert (b.granted, b.remaining + b.usage) == (total, total)
            for item in b.breakdown:
                assert item.remaining + item.usage == included[item.id]
                assert ZERO <= item.remaining <= included[item.id]

    @FAST
    @given(grant=grants, n=st.integers(min_value=0, max_value=30), value=consumptions)
    def test_exact_sums(self, ledger: Ledger, grant: Decimal, n: int, value: Decimal) -> None:
        """n tracks of v that fit leave usage exactly n × v."""
        c = fresh_customer()
        ledger.create(c, "messages", included=grant)
        fits = min(n, int(grant // value)) if value else n
        for _ in range(fits):
            ledger.track(c, "messages", value=value)
        b = ledger.balance(c, "messages")
        assert b is not None
        assert b.usage == fits * value
        assert b.remaining == grant - fits * value


class TestNeverBelowZero:
    """remaining is never below 0; usage exceeds the grant only with overage or overflow."""

    @FAST
    @given(rows=any_rows(), seq=track_sequences(behavior=behaviors))
    def test_any_grants(
        self, ledger: Ledger, rows: list[dict[str, Any]], seq: list[tuple[Decimal, str]]
    ) -> None:
        """A grant goes negative only if it allows overage or an overflow track was made."""
        c = fresh_customer()
        for row in rows:
            ledger.create(c, "messages", **row)
        by_id = {row["balance_id"]: row for row in rows}
        overflowed = False
        for value, behavior in seq:
            overflowed = overflowed or behavior == "overflow"
            ledger.track(c, "messages", value=value, overage_behavior=behavior)
            b = ledger.balance(c, "messages")
            assert b is not None
            assert b.remaining >= ZERO
            for item in b.breakdown:
                row = by_id[item.id]
                assert item.remaining >= ZERO
                went_negative = item.usage > row["included"]
                if went_negative and not overflowed:
                    assert row["overage_allowed"]
                    if row.get("max_purchase") is not None:
                        assert item.usage <= row["included"] + row["max_purchase"]
                if not overflowed:
                    assert item.remaining <= row["included"]  # refunds stop at the grant


class TestSingleGrantModel:
    """One grant follows §6.4 exactly, for every overage option and behaviour."""

    @FAST
    @given(
        grant=grants,
        options=overage_options(),
        seq=track_sequences(values=track_values, behavior=behaviors, max_size=10),
    )
    def test_matches_the_model(
        self,
        ledger: Ledger,
        grant: Decimal,
        options: dict[str, Any],
        seq: list[tuple[Decimal, str]],
    ) -> None:
        """remaining == max(0, model) and usage == grant − model after every track."""
        c = fresh_customer()
        ledger.create(c, "messages", included=grant, **options)
        model = grant
        for value, behavior in seq:
            model = step(
                model,
                grant,
                value,
                behavior,
                overage=options["overage_allowed"],
                max_purchase=options.get("max_purchase"),
            )
            ledger.track(c, "messages", value=value, overage_behavior=behavior)
            b = ledger.balance(c, "messages")
            assert b is not None
            assert (b.remaining, b.usage) == (max(ZERO, model), grant - model)

    @FAST
    @given(grant=grants, used=consumptions, required=st.one_of(consumptions, track_values))
    def test_check_agrees(
        self, ledger: Ledger, grant: Decimal, used: Decimal, required: Decimal
    ) -> None:
        """Without overage a check is allowed iff required ≤ remaining (or ≤ 0)."""
        c = fresh_customer()
        ledger.create(c, "messages", included=grant)
        ledger.track(c, "messages", value=used)
        remaining = max(ZERO, grant - used)
        result = ledger.check(c, "messages", required_balance=required)
        assert result.allowed is (required <= 0 or required <= remaining)


@pytest.mark.slow
class TestLongRuns:
    """The same properties over many more examples (run with -m slow)."""

    @settings(
        max_examples=500,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        grant=grants,
        options=overage_options(),
        seq=track_sequences(values=track_values, behavior=behaviors, max_size=40),
    )
    def test_model_long(
        self,
        ledger: Ledger,
        grant: Decimal,
        options: dict[str, Any],
        seq: list[tuple[Decimal, str]],
    ) -> None:
        """The single-grant model holds over long sequences."""
        c = fresh_customer()
        ledger.create(c, "messages", included=grant, **options)
        model = grant
        for value, behavior in seq:
            model = step(
                model,
                grant,
                value,
                behavior,
                overage=options["overage_allowed"],
                max_purchase=options.get("max_purchase"),
            )
            ledger.track(c, "messages", value=value, overage_behavior=behavior)
        b = ledger.balance(c, "messages")
        assert b is not None
        assert (b.remaining, b.usage) == (max(ZERO, model), grant - model)
