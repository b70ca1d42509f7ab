"""Observation independence (spec decision 1): looking at a ledger never changes its results.

A random timed program of create / track / update / lock / finalize / clock moves runs on one
ledger; the same program is replayed on a second ledger of the same store kind with extra
observations inserted at random instants, including instants inside a clock move that the first
ledger never saw. Every result of the program and the final balances must be identical.

Two kinds of observation:
* reads (`balance`, `balances`, `check`), which persist nothing;
* touches (`track` of 0), which persist the caught-up state (resets, rollovers, expired lots and
  released locks) at that instant, so later operations start from a state computed earlier.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterlib import Ledger, ManualClock, MemoryStore, MeterError
from meterlib.stores import SQLiteStore, Store

START = datetime(2025, 1, 31, 12, tzinfo=UTC)
CUSTOMER = "c"
FEATURES = ("f", "g")
DAY = 86_400_000

Op = tuple[Any, ...]
Read = tuple[float, tuple[Any, ...]]
Step = tuple[Op, list[Read]]

KINDS: dict[str, Callable[[Path], Store]] = {
    "memory": lambda path: MemoryStore(),
    "sqlite-memory": lambda path: SQLiteStore(":memory:"),
    "sqlite-file": lambda path: SQLiteStore(path),
}


# ---- strategies


amounts = st.one_of(
    st.integers(0, 200).map(Decimal),
    st.decimals(min_value=0, max_value=200, places=2, allow_nan=False, allow_infinity=False),
).map(lambda d: d + 0)
signed = st.one_of(
    st.integers(-60, 160).map(Decimal),
    st.decimals(min_value=-60, max_value=160, places=2, allow_nan=False, allow_infinity=False),
).map(lambda d: d + 0)
# how far ahead a time argument lies, in ms (resolved against the clock when the op runs)
ahead = st.one_of(
    st.integers(1, 3_600_000),
    st.integers(1, 90).map(lambda d: d * DAY),
    st.integers(1, 400 * DAY),
)
INTERVALS = ["one_off", "minute", "hour", "day", "week", "month", "quarter", "semi_annual", "year"]


@st.composite
def rollover_rules(draw: st.DrawFn, interval: str) -> dict[str, Any]:
    """A rollover rule; sub-day intervals always get a cap (meterlib requires one)."""
    rule: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:
        rule["duration"] = "forever"
    else:
        rule["length"] = draw(st.integers(1, 3))
    caps = ["max", "max_percentage", "both"]
    cap = draw(st.sampled_from(caps if interval in ("minute", "hour") else [*caps, "none"]))
    if cap in ("max", "both"):
        rule["max"] = draw(st.integers(1, 250))
    if cap in ("max_percentage", "both"):
        rule["max_percentage"] = draw(st.integers(1, 100))
    return rule


@st.composite
def creates(draw: st.DrawFn) -> Op:
    """create(...) of a grant of f or g with any schedule, rollover, expiry and overage."""
    kw: dict[str, Any] = {"included": draw(amounts)}
    interval = draw(st.sampled_from([None, *INTERVALS]))
    if interval is not None:
        kw["reset"] = {"interval": interval, "interval_count": draw(st.integers(1, 2))}
        if interval != "one_off":
            if draw(st.booleans()):
                kw["rollover"] = draw(rollover_rules(interval))
            if draw(st.integers(0, 3)) == 0:
                kw["next_reset_at"] = ("ahead", draw(ahead))
    if draw(st.integers(0, 3)) == 0:
        kw["expires_at"] = ("ahead", draw(ahead))
    if draw(st.integers(0, 2)) == 0:
        kw["overage_allowed"] = True
        if draw(st.booleans()):
            kw["max_purchase"] = draw(st.integers(0, 100))
    return ("create", draw(st.sampled_from(FEATURES)), kw)


@st.composite
def updates(draw: st.DrawFn) -> Op:
    """update(...) with one of its changes."""
    keys = ["remaining", "add_to_balance", "usage", "included", "next_reset_at"]
    key = draw(st.sampled_from([*keys, "expires_at"]))
    value: object
    if key in ("next_reset_at", "expires_at"):
        value = ("ahead", draw(ahead))
    elif key == "included":
        value = draw(amounts)
    else:
        value = draw(signed)
    return ("update", draw(st.sampled_from(FEATURES)), {key: value})


def moves() -> st.SearchStrategy[Op]:
    """A clock move: a few ms up to a year, in any relativedelta unit."""
    return st.one_of(
        st.integers(1, 120_000).map(lambda n: {"milliseconds": n}),
        st.integers(1, 240).map(lambda n: {"minutes": n}),
        st.integers(1, 72).map(lambda n: {"hours": n}),
        st.integers(1, 60).map(lambda n: {"days": n}),
        st.integers(1, 14).map(lambda n: {"months": n}),
        st.just({"years": 1}),
    ).map(lambda kw: ("advance", kw))


def operations(*, locks: bool) -> st.SearchStrategy[Op]:
    """One operation of the program (with `locks`, also lock checks and finalize)."""
    options: list[st.SearchStrategy[Op]] = [
        creates(),
        creates(),
        st.tuples(
            st.just("track"),
            st.sampled_from(FEATURES),
            signed,
            st.sampled_from(["cap", "overflow"]),
        ),
        st.tuples(st.just("track"), st.sampled_from(FEATURES), signed, st.just("cap")),
        updates(),
        moves(),
        moves(),
        moves(),
    ]
    if locks:
        options += [
            st.tuples(
                st.just("lock"),
                st.sampled_from(FEATURES),
                st.integers(0, 60).map(Decimal),
                st.one_of(st.none(), st.integers(1, DAY)),
            ),
            st.tuples(
                st.just("finalize"),
                st.integers(0, 7),
                st.sampled_from(["confirm", "release"]),
                st.one_of(st.none(), st.integers(0, 80).map(Decimal)),
            ),
        ]
    return st.one_of(*options)


def observations(touch: bool) -> st.SearchStrategy[tuple[Any, ...]]:
    """One extra observation: a read, or (with `touch`) a persisting track of 0."""
    reads: list[st.SearchStrategy[tuple[Any, ...]]] = [
        st.tuples(st.just("balance"), st.sampled_from(FEATURES)),
        st.just(("balances",)),
        st.tuples(st.just("check"), st.sampled_from(FEATURES), st.integers(0, 150)),
    ]
    if touch:
        reads = [*reads, st.tuples(st.just("touch"), st.sampled_from(FEATURES))] * 2
    return st.one_of(*reads)


def programs(*, locks: bool, touch: bool, max_size: int) -> st.SearchStrategy[list[Step]]:
    """Steps of (operation, observations at fractions of the time before it)."""
    reads = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), observations(touch)), max_size=4)
    return st.lists(st.tuples(operations(locks=locks), reads), min_size=1, max_size=max_size)


# ---- running a program


def _outcome(call: Callable[[], object]) -> object:
    """The result of a call, or what it raised (type, code and message)."""
    try:
        return call()
    except MeterError as exc:
        return (type(exc).__name__, exc.code, str(exc))


def _resolve(kw: dict[str, Any], now: int) -> dict[str, Any]:
    """Time arguments given as ("ahead", ms) become epoch ms from now."""
    return {
        k: now + v[1] if isinstance(v, tuple) and v and v[0] == "ahead" else v
        for k, v in kw.items()
    }


class Runner:
    """Runs a program on one ledger, recording every result."""

    def __init__(self, ledger: Ledger, clock: ManualClock) -> None:
        self.ledger = ledger
        self.clock = clock
        self.results: list[object] = []
        self.lock_ids: list[str] = []

    def apply(self, op: Op) -> object:
        """One operation of the program at the current instant."""
        ledger, now = self.ledger, self.clock()
        kind = op[0]
        if kind == "create":
            return ledger.create(CUSTOMER, op[1], **_resolve(op[2], now))
        if kind == "update":
            return ledger.update(CUSTOMER, op[1], **_resolve(op[2], now))
        if kind == "track":
            return ledger.track(CUSTOMER, op[1], value=op[2], overage_behavior=op[3])
        if kind == "lock":
            lock_id = f"L{len(self.lock_ids)}"
            self.lock_ids.append(lock_id)
            lock: dict[str, Any] = {"lock_id": lock_id}
            if op[3] is not None:
                lock["expires_at"] = now + op[3]
            return ledger.check(CUSTOMER, op[1], required_balance=op[2], lock=lock)
        if kind == "finalize":
            lock_id = self.lock_ids[op[1] % len(self.lock_ids)] if self.lock_ids else "none"
            return ledger.finalize(lock_id, action=op[2], override_value=op[3])
        raise AssertionError(op)

    def observe(self, read: tuple[Any, ...]) -> None:
        """An extra observation; reads are checked for agreeing with each other."""
        ledger = self.ledger
        if read[0] == "touch":
            _outcome(lambda: ledger.track(CUSTOMER, read[1], value=0))
        elif read[0] == "balances":
            _outcome(lambda: ledger.balances(CUSTOMER))
        elif read[0] == "balance":
            one = _outcome(lambda: ledger.balance(CUSTOMER, read[1]))
            every = _outcome(lambda: ledger.balances(CUSTOMER))
            if isinstance(every, dict) and not isinstance(one, tuple):
                assert every.get(read[1]) == one
        else:
            checked = _outcome(lambda: ledger.check(CUSTOMER, read[1], required_balance=read[2]))
            if not isinstance(checked, tuple):
                assert checked.balance == ledger.balance(CUSTOMER, read[1])  # type: ignore[attr-defined]

    def run(self, program: list[Step], *, observe: bool) -> list[object]:
        """Every step's result, then the final state now and a year and a half later."""
        for op, reads in program:
            if op[0] == "advance":
                start = self.clock()
                probe = ManualClock(start)
                probe.advance(**op[1])
                target = probe()
                if observe:
                    for fraction, read in sorted(reads, key=lambda r: r[0]):
                        self.clock.set(start + int(fraction * (target - start)))
                        self.observe(read)
                self.clock.set(target)
                continue
            if observe:
                for _, read in reads:
                    self.observe(read)
            self.results.append((op, _outcome(lambda op=op: self.apply(op))))  # type: ignore[misc]
        for _ in range(2):
            self.results.append(self.final_state())
            self.clock.advance(months=18)
        return self.results

    def final_state(self) -> object:
        """Every balance of the customer (native and Autumn's JSON shape)."""
        found = _outcome(lambda: self.ledger.balances(CUSTOMER))
        if not isinstance(found, dict):
            return found
        return (found, {fid: b.to_dict() for fid, b in found.items()})


@contextmanager
def two_ledgers(kind: str, *, persist: bool) -> Iterator[tuple[Runner, Runner]]:
    """Two fresh ledgers over stores of one kind, each on its own ManualClock at START."""
    with tempfile.TemporaryDirectory() as tmp:
        runners = []
        for name in ("plain", "observed"):
            clock = ManualClock(START)
            ledger = Ledger(
                KINDS[kind](Path(tmp) / f"{name}.db"),
                clock=clock,
                persist_overage_on_reset=persist,
            )
            runners.append(Runner(ledger, clock))
        try:
            yield runners[0], runners[1]
        finally:
            for runner in runners:
                runner.ledger.close()


def check_program(kind: str, program: list[Step], *, persist: bool = False) -> None:
    """The program's results on a plain ledger equal those on an observed one."""
    with two_ledgers(kind, persist=persist) as (plain, observed):
        expected = plain.run(program, observe=False)
        got = observed.run(program, observe=True)
        assert len(got) == len(expected)
        for index, (want, have) in enumerate(zip(expected, got, strict=True)):
            assert have == want, f"result {index} differs"


FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEAVY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STORE_KINDS = pytest.mark.parametrize("kind", list(KINDS))


class TestReadsChangeNothing:
    """Reads at random instants never change a result (locks included)."""

    @STORE_KINDS
    @FAST
    @given(program=programs(locks=True, touch=False, max_size=20))
    def test_reads(self, kind: str, program: list[Step]) -> None:
        """balance / balances / check inserted anywhere leave every result as it was."""
        check_program(kind, program)


class TestTouchesChangeNothing:
    """Writes that persist the caught-up state at random instants never change a result."""

    @STORE_KINDS
    @FAST
    @given(program=programs(locks=False, touch=True, max_size=20))
    def test_touches_with_expiring_grants(self, kind: str, program: list[Step]) -> None:
        """Resets, rollovers and expiries come out the same however often they were persisted."""
        check_program(kind, program)

    @STORE_KINDS
    @FAST
    @given(program=programs(locks=True, touch=True, max_size=20))
    def test_touches_with_locks(self, kind: str, program: list[Step]) -> None:
        """Locks released at their expiry come out the same whenever the release was persisted."""
        check_program(kind, program)

    @STORE_KINDS
    @FAST
    @given(program=programs(locks=False, touch=True, max_size=20))
    def test_touches_with_persisting_overage(self, kind: str, program: list[Step]) -> None:
        """With persist_overage_on_reset, overage paid back over skipped periods comes out alike."""
        check_program(kind, program, persist=True)


@pytest.mark.slow
class TestObservationHeavy:
    """The same properties with many more and longer programs (run by name in CI)."""

    @STORE_KINDS
    @HEAVY
    @given(program=programs(locks=True, touch=True, max_size=40))
    def test_locks(self, kind: str, program: list[Step]) -> None:
        """Reads and touches among locks, over longer programs."""
        check_program(kind, program)

    @STORE_KINDS
    @HEAVY
    @given(program=programs(locks=False, touch=True, max_size=40))
    def test_expiring(self, kind: str, program: list[Step]) -> None:
        """Reads and touches among expiring grants, over longer programs."""
        check_program(kind, program)

    @STORE_KINDS
    @HEAVY
    @given(program=programs(locks=True, touch=True, max_size=40))
    def test_persisting_overage(self, kind: str, program: list[Step]) -> None:
        """Reads and touches with persist_overage_on_reset, over longer programs."""
        check_program(kind, program, persist=True)
