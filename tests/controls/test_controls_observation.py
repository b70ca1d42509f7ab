"""Observation independence with billing controls: reads never change a result.

A random timed program (tracks with properties and entities, checks with send_event, locks
and finalizes, clock moves) runs on a customer with every kind of control: usage windows
(billing-cycle and UTC, filtered, entity-scoped, on a credit system), a spend limit, an
overage control, usage alerts and an auto top-up with a purchase limit. It is replayed on a
second ledger of the same store kind with reads (balance, balances, plain check) inserted at
random instants, including instants inside clock moves the first ledger never saw. Every
result, every notification, every stored counter and the final state must be identical.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterlib import Ledger, ManualClock, MeterError
from meterlib.notifications import Notification
from meterlib.stores import Store

START = datetime(2025, 1, 31, 12, tzinfo=UTC)
MINUTE = 60_000
FEATURES = ("messages", "action1", "credits")
ENTITIES = (None, "e1", "e2")
PROPERTIES: tuple[dict[str, Any] | None, ...] = (None, {"k": "a"}, {"k": "b"})

Op = tuple[Any, ...]
Step = tuple[Op, list[tuple[float, Op]]]

values = st.one_of(
    st.integers(-5, 30).map(Decimal),
    st.decimals(min_value=0, max_value=30, places=1, allow_nan=False, allow_infinity=False),
).map(lambda d: d + 0)
features = st.sampled_from(FEATURES)
entities = st.sampled_from(ENTITIES)
properties = st.sampled_from(PROPERTIES)
operations = st.one_of(
    st.tuples(
        st.just("track"),
        features,
        values,
        entities,
        properties,
        st.sampled_from(["cap", "cap", "overflow"]),
    ),
    st.tuples(st.just("check"), features, values, entities, properties, st.booleans()),
    st.tuples(
        st.just("lock"),
        features,
        values.filter(lambda v: v > 0),
        entities,
        properties,
        st.one_of(st.none(), st.integers(1, 3 * 24 * 60).map(lambda m: m * MINUTE)),
    ),
    st.tuples(
        st.just("finalize"),
        st.integers(0, 10),
        st.sampled_from(["confirm", "release"]),
        st.one_of(st.none(), values.filter(lambda v: v >= 0)),
    ),
    st.tuples(
        st.just("advance"),
        st.one_of(
            st.integers(1, 120).map(lambda m: m * MINUTE),
            st.integers(1, 72).map(lambda h: h * 60 * MINUTE),
            st.integers(1, 40).map(lambda d: d * 24 * 60 * MINUTE),
        ),
    ),
)
reads = st.one_of(
    st.tuples(st.just("balance"), features, entities),
    st.tuples(st.just("balances"), entities),
    st.tuples(st.just("check"), features, values, entities, properties),
)
programs = st.lists(
    st.tuples(
        operations, st.lists(st.tuples(st.floats(0, 1, exclude_max=True), reads), max_size=3)
    ),
    min_size=1,
    max_size=25,
)

CONTROLS: dict[str, Any] = {
    "usage_limits": [
        {"feature_id": "messages", "limit": 60, "interval": "day"},
        {
            "feature_id": "messages",
            "limit": 10,
            "interval": "week",
            "anchor": "utc",
            "filter": {"properties": {"k": "a"}},
        },
        {"feature_id": "action1", "limit": 12, "interval": "day", "anchor": "utc"},
        {"feature_id": "credits", "limit": 45, "interval": "day"},
    ],
    "spend_limits": [{"feature_id": "messages", "enabled": True, "overage_limit": 7}],
    "usage_alerts": [
        {"feature_id": "messages", "threshold": 40, "threshold_type": "usage"},
        {"threshold": 30, "threshold_type": "remaining_percentage"},
    ],
    "auto_topups": [
        {
            "feature_id": "credits",
            "enabled": True,
            "threshold": 10,
            "quantity": 12,
            "purchase_limit": {"interval": "day", "limit": 1},
        }
    ],
}
ENTITY_CONTROLS: dict[str, Any] = {
    "usage_limits": [{"feature_id": "messages", "limit": 6, "interval": "day"}],
    "overage_allowed": [{"feature_id": "messages", "enabled": False}],
    "usage_alerts": [{"feature_id": "messages", "threshold": 5, "threshold_type": "usage"}],
}


def _outcome(call: Callable[[], object]) -> object:
    try:
        result = call()
    except MeterError as exc:
        return (type(exc).__name__, exc.code, str(exc))
    to_dict = getattr(result, "to_dict", None)
    return (result, to_dict()) if callable(to_dict) else result


class Run:
    """One ledger running a program, recording results and notifications."""

    def __init__(self, store: Store) -> None:
        self.clock = ManualClock(START)
        self.ledger = Ledger(store, clock=self.clock)
        self.notes: list[Notification] = []
        self.ledger.subscribe(self.notes.append)
        self.locks: list[str] = []
        ledger = self.ledger
        ledger.create_feature("messages")
        ledger.create_feature("action1")
        ledger.create_feature("credits", type="credit_system", credit_schema={"action1": "0.5"})
        ledger.create("c", "messages", included=30, reset="month", balance_id="monthly")
        ledger.create("c", "messages", included=15, overage_allowed=True, balance_id="payg")
        ledger.create("c", "messages", entity_id="e1", included=20, reset="day", balance_id="e1")
        ledger.create("c", "credits", included=40, reset="week", balance_id="credits")
        ledger.create_entity("c", "e2")
        ledger.update_customer("c", billing_controls=CONTROLS)
        ledger.update_entity("c", "e1", billing_controls=ENTITY_CONTROLS)

    def apply(self, op: Op) -> object:
        ledger, kind = self.ledger, op[0]
        if kind == "track":
            _, feature, value, entity, props, behavior = op
            return ledger.track(
                "c",
                feature,
                value=value,
                entity_id=entity,
                properties=props,
                overage_behavior=behavior,
            )
        if kind == "check":
            _, feature, value, entity, props, send = op
            return ledger.check(
                "c",
                feature,
                required_balance=value,
                entity_id=entity,
                properties=props,
                send_event=send and feature != "none",
            )
        if kind == "lock":
            _, feature, value, entity, props, expires = op
            lock: dict[str, Any] = {"lock_id": f"L{len(self.locks)}"}
            self.locks.append(lock["lock_id"])
            if expires is not None:
                lock["expires_at"] = self.clock() + expires
            return ledger.check(
                "c", feature, required_balance=value, entity_id=entity, properties=props, lock=lock
            )
        _, index, action, override = op
        lock_id = self.locks[index % len(self.locks)] if self.locks else "none"
        if action == "release":
            override = None
        return ledger.finalize(lock_id, action=action, override_value=override)

    def read(self, read: Op) -> None:
        ledger = self.ledger
        if read[0] == "balance":
            _outcome(lambda: ledger.balance("c", read[1], entity_id=read[2]))
        elif read[0] == "balances":
            _outcome(lambda: ledger.balances("c", entity_id=read[1]))
        else:
            _, feature, value, entity, props = read
            _outcome(
                lambda: ledger.check(
                    "c", feature, required_balance=value, entity_id=entity, properties=props
                )
            )

    def run(self, program: list[Step], *, observe: bool) -> list[object]:
        results: list[object] = []
        for op, extra in program:
            if op[0] == "advance":
                start = self.clock()
                if observe:
                    for fraction, read in sorted(extra, key=lambda r: r[0]):
                        self.clock.set(start + int(fraction * op[1]))
                        self.read(read)
                self.clock.set(start + op[1])
                continue
            if observe:
                for _, read in extra:
                    self.read(read)
            results.append((op, _outcome(lambda op=op: self.apply(op))))  # type: ignore[misc]
        for _ in range(2):
            results.append(self.state())
            self.clock.advance(days=9)
        results.append([(n.type, n.data, n.occurred_at) for n in self.notes])
        return results

    def state(self) -> object:
        ledger = self.ledger
        checks = [
            ledger.check("c", f, entity_id=e, properties=p).allowed
            for f, e, p in itertools.product(FEATURES, ENTITIES, PROPERTIES)
        ]
        balances = [_outcome(lambda e=e: ledger.balances("c", entity_id=e)) for e in ENTITIES]
        with ledger.store.transaction(write=False) as session:
            counters = session.list_counters("c")
        return checks, balances, counters


_examples = itertools.count()


class TestReadsChangeNothing:
    """Reads at random instants never change a result, a notification or a counter."""

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(program=programs)
    def test_reads(
        self,
        store_factory: Callable[[Path], Store],
        tmp_path: Path,
        program: list[Step],
    ) -> None:
        """The observed ledger agrees with the plain one, result by result."""
        n = next(_examples)
        runs = []
        for name in ("plain", "observed"):
            folder = tmp_path / f"{n}-{name}"
            folder.mkdir()
            runs.append(Run(store_factory(folder)))
        plain, observed = runs
        try:
            expected = plain.run(program, observe=False)
            got = observed.run(program, observe=True)
            for index, (want, have) in enumerate(zip(expected, got, strict=True)):
                assert have == want, f"result {index} differs"
        finally:
            plain.ledger.close()
            observed.ledger.close()
