"""Hypothesis strategies shared by the property tests: amounts, grants, track sequences."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

PLACES = 4  # amounts with up to 4 decimal places: exact in every input form


def amounts(min_value: int | str = 0, max_value: int | str = 1_000) -> st.SearchStrategy[Decimal]:
    """Exact finite Decimals in [min_value, max_value] with at most PLACES decimal places."""
    return st.decimals(
        min_value=Decimal(min_value),
        max_value=Decimal(max_value),
        places=PLACES,
        allow_nan=False,
        allow_infinity=False,
    ).map(lambda d: d + 0)  # normalise -0


def as_input(value: Decimal) -> st.SearchStrategy[object]:
    """The same amount as any accepted input form: Decimal, str, float (shortest repr), int."""
    forms: list[object] = [value, str(value), float(value)]
    if value == value.to_integral_value():
        forms.append(int(value))
    return st.sampled_from(forms)


def inputs(strategy: st.SearchStrategy[Decimal]) -> st.SearchStrategy[tuple[Decimal, object]]:
    """(exact amount, the same amount in some accepted input form)."""
    return strategy.flatmap(lambda d: as_input(d).map(lambda v: (d, v)))


grants = amounts(0, 1_000)
consumptions = amounts(0, 400)
refunds = amounts(-400, 0)
track_values = st.one_of(consumptions, refunds, st.just(Decimal(0)))
behaviors = st.sampled_from(["cap", "overflow"])
CAP = st.just("cap")
resets = st.sampled_from([None, "one_off", "day", "week", "month", "year"])


@st.composite
def plain_rows(draw: st.DrawFn, max_rows: int = 4) -> list[dict[str, Any]]:
    """Grants without overage: included and a reset interval, each with a unique balance_id."""
    n = draw(st.integers(min_value=1, max_value=max_rows))
    return [
        {"balance_id": f"r{i}", "included": draw(grants), "reset": draw(resets)} for i in range(n)
    ]


@st.composite
def overage_options(draw: st.DrawFn) -> dict[str, Any]:
    """No overage, uncapped overage, or overage capped by a max_purchase."""
    kind = draw(st.sampled_from(["none", "uncapped", "capped"]))
    if kind == "none":
        return {"overage_allowed": False}
    if kind == "uncapped":
        return {"overage_allowed": True}
    return {"overage_allowed": True, "max_purchase": draw(amounts(0, 500))}


@st.composite
def any_rows(draw: st.DrawFn, max_rows: int = 3) -> list[dict[str, Any]]:
    """Grants with any overage option."""
    return [{**row, **draw(overage_options())} for row in draw(plain_rows(max_rows))]


def track_sequences(
    values: st.SearchStrategy[Decimal] = track_values,
    behavior: st.SearchStrategy[str] = CAP,
    max_size: int = 12,
) -> st.SearchStrategy[list[tuple[Decimal, str]]]:
    """A sequence of (value, overage_behavior) pairs."""
    return st.lists(st.tuples(values, behavior), max_size=max_size)
