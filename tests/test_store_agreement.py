"""Store agreement (STYLE §7.5): every store answers every operation alike.

A Hypothesis state machine applies the same random operations to a Ledger over a MemoryStore,
one over a SQLite file and one over SQLite ":memory:", each on its own ManualClock moved
identically: creates of every kind of grant, updates, deletes, tracks (negative, overflow, by
event name, with idempotency keys that repeat), batches, checks (with send_event and locks),
finalizes, idempotency claims, reads, clock moves, and closing and reopening the file. After
every step every ledger must have returned the same thing (an equal result with the same JSON
shape, or an error of the same class, code and message), and must show the same balances and
events for every customer. Modelled on hypothesis' tests/cover/test_database_agreement.py.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from postgres_server import MODE_VARIABLE, URL_VARIABLE, throwaway_store
from strategies import amounts, as_input

from meterlib import EventPage, Ledger, ManualClock, MemoryStore, MeterError
from meterlib.stores import SQLiteStore, Store

START = datetime(2025, 1, 31, 12, tzinfo=UTC)
DAY = 86_400_000
CUSTOMERS = ("c1", "c2")
ENTITIES = ("e1", "e2")
# "h" is not in the catalogue until a create() adds it; "sso" is a flag; "credits" pays for f, g
FEATURES = ("f", "g", "seats", "credits", "sso", "h")
METERED = ("f", "g", "seats", "credits", "h")
features = st.sampled_from(["f", "f", "g", "g", *FEATURES])
metered = st.sampled_from(["f", "f", "g", "g", *METERED])
EVENT_NAMES = ("ev", "f_only", "nobody")
KEYS = ("k1", "k2", "k3")
LOCKS = ("L1", "L2", "L3")
BALANCE_IDS = ("b1", "b2")
INTERVALS = ["one_off", "minute", "hour", "day", "week", "month", "quarter", "semi_annual", "year"]

Shape = object


# ---- strategies: keyword arguments, with times as ("ahead", ms) / ("ago", ms) from now


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


quantities = amounts(0, 200).flatmap(as_input)
signed = amounts(-60, 160).flatmap(as_input)
ahead = st.one_of(
    st.integers(1, 3_600_000),
    st.integers(1, 90).map(lambda d: d * DAY),
    st.integers(1, 400 * DAY),
).map(lambda ms: ("ahead", ms))
entities = st.sampled_from([None, None, None, *ENTITIES])
properties = _maybe(st.sampled_from([{}, {"region": "eu"}, {"n": Decimal("2.50"), "ok": True}]))


@st.composite
def rollovers(draw: st.DrawFn, interval: str) -> dict[str, Any]:
    """A rollover rule; sub-day intervals mostly get the cap meterlib requires of them."""
    rule_: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:
        rule_["duration"] = "forever"
    else:
        rule_["length"] = draw(st.integers(1, 3))
    cap = draw(st.sampled_from(["max", "max_percentage", "both", "none"]))
    if cap in ("max", "both"):
        rule_["max"] = draw(st.integers(1, 250))
    if cap in ("max_percentage", "both"):
        rule_["max_percentage"] = draw(st.integers(1, 100))
    return rule_


@st.composite
def create_args(draw: st.DrawFn) -> dict[str, Any]:
    """create(...) keywords: included (in any alias) or unlimited, resets, rollovers, expiries,
    overage, balance ids and plans; now and then an invalid combination."""
    kw: dict[str, Any] = {}
    amount = draw(st.sampled_from(["included", "included", "included", "unlimited", "odd"]))
    if amount == "included":
        kw[draw(st.sampled_from(["included", "included_grant", "granted_balance"]))] = draw(
            quantities
        )
    elif amount == "unlimited":
        kw["unlimited"] = True
    elif draw(st.booleans()):
        kw.update(included=draw(quantities), unlimited=True)
    # unlimited grants do not reset: give them a reset only now and then, to see the refusal
    interval = draw(st.sampled_from([None, None, *INTERVALS]))
    if interval is not None and (amount != "unlimited" or draw(st.integers(0, 5)) == 0):
        if draw(st.booleans()):
            kw["reset"] = interval
        else:
            kw["reset"] = {"interval": interval, "interval_count": draw(st.integers(1, 3))}
        if interval != "one_off" and draw(st.booleans()):
            kw["rollover"] = draw(rollovers(interval))
        if draw(st.integers(0, 3)) == 0:
            kw["next_reset_at"] = draw(ahead)
    if draw(st.integers(0, 3)) == 0:
        kw["expires_at"] = draw(ahead)
    overage = draw(st.integers(0, 9))  # 0-4 none, 5-6 uncapped, 7-8 capped, 9 a lone cap
    if 5 <= overage <= 8:
        kw["overage_allowed"] = True
    if overage >= 7:
        kw["max_purchase"] = draw(st.integers(0, 100))
    if draw(st.integers(0, 2)) == 0:
        kw["balance_id"] = draw(st.sampled_from(BALANCE_IDS))
    if draw(st.integers(0, 3)) == 0:
        kw["plan_id"] = "pro"
    return kw


@st.composite
def update_args(draw: st.DrawFn) -> dict[str, Any]:
    """update(...) keywords: one or two changes, sometimes narrowed by interval or balance id."""
    changes: dict[str, st.SearchStrategy[Any]] = {
        "remaining": signed,
        "current_balance": signed,
        "add_to_balance": signed,
        "usage": signed,
        "included": quantities,
        "granted_balance": quantities,
        "next_reset_at": ahead,
        "expires_at": ahead,
    }
    size = draw(st.sampled_from([1, 1, 1, 2]))
    keys = draw(
        st.lists(st.sampled_from(sorted(changes)), min_size=size, max_size=size, unique=True)
    )
    kw = {key: draw(changes[key]) for key in keys}
    if draw(st.integers(0, 5)) == 0:
        kw["interval"] = draw(st.sampled_from(INTERVALS))
    if draw(st.integers(0, 5)) == 0:
        kw["balance_id"] = draw(st.sampled_from(BALANCE_IDS))
    return kw


@st.composite
def track_args(draw: st.DrawFn) -> dict[str, Any]:
    """track(...) keywords (customer included): by feature or event name, any value and
    overage behaviour, repeating idempotency keys, properties and past timestamps."""
    kw: dict[str, Any] = {"customer_id": draw(st.sampled_from(CUSTOMERS))}
    if draw(st.integers(0, 3)) == 0:
        kw["event_name"] = draw(st.sampled_from(EVENT_NAMES))
    else:
        kw["feature_id"] = draw(features)
    kw["value"] = draw(signed)
    behavior = draw(st.sampled_from([None, "cap", "overflow"]))
    if behavior is not None:
        kw["overage_behavior"] = behavior
    entity = draw(entities)
    if entity is not None:
        kw["entity_id"] = entity
    key = draw(_maybe(st.sampled_from(KEYS)))
    if key is not None:
        kw["idempotency_key"] = key
    props = draw(properties)
    if props is not None:
        kw["properties"] = props
    if draw(st.integers(0, 4)) == 0:
        kw["timestamp"] = ("ago", draw(st.integers(0, 30 * DAY)))
    return kw


@st.composite
def check_args(draw: st.DrawFn) -> dict[str, Any]:
    """check(...) keywords: an amount, and sometimes send_event, a lock or a preview."""
    kw: dict[str, Any] = {"required_balance": draw(quantities)}
    if draw(st.booleans()):
        kw["send_event"] = True
    if draw(st.booleans()):
        lock: dict[str, Any] = {"lock_id": draw(st.sampled_from(LOCKS))}
        if draw(st.booleans()):
            lock["expires_at"] = ("ahead", draw(st.integers(1, 2 * DAY)))
        kw["lock"] = lock
    if draw(st.booleans()):
        kw["with_preview"] = True
    props = draw(properties)
    if props is not None:
        kw["properties"] = props
    return kw


# billing controls (they keep counters in the store): each preset replaces the lists it names
CUSTOMER_CONTROLS: list[dict[str, Any]] = [
    {"usage_limits": [{"feature_id": "f", "limit": 60, "interval": "day"}]},
    {"usage_limits": [{"feature_id": "credits", "limit": 45, "interval": "week"}]},
    {"spend_limits": [{"feature_id": "f", "enabled": True, "overage_limit": 7}]},
    {"overage_allowed": [{"feature_id": "g", "enabled": True}]},
    {
        "usage_alerts": [
            {"feature_id": "f", "threshold": 40, "threshold_type": "usage"},
            {"threshold": 30, "threshold_type": "remaining_percentage"},
        ]
    },
    {
        "auto_topups": [
            {
                "feature_id": "f",
                "enabled": True,
                "threshold": 10,
                "quantity": 12,
                "purchase_limit": {"interval": "day", "limit": 2},
            }
        ]
    },
    {"usage_limits": [], "spend_limits": [], "auto_topups": []},
]
ENTITY_CONTROLS: list[dict[str, Any]] = [
    {"usage_limits": [{"feature_id": "f", "limit": 6, "interval": "day"}]},
    {"overage_allowed": [{"feature_id": "f", "enabled": False}]},
    {"usage_alerts": [{"feature_id": "f", "threshold": 5, "threshold_type": "usage"}]},
    {"usage_limits": [], "overage_allowed": []},
]

moves = st.one_of(
    st.integers(1, 120_000).map(lambda n: {"milliseconds": n}),
    st.integers(1, 240).map(lambda n: {"minutes": n}),
    st.integers(1, 72).map(lambda n: {"hours": n}),
    st.integers(1, 60).map(lambda n: {"days": n}),
    st.integers(1, 14).map(lambda n: {"months": n}),
    st.just({"years": 1}),
)


# ---- comparing what the ledgers answered


def _shape(value: object) -> Shape:
    """A result as compared: its repr (exact Decimals, datetimes) and its JSON shape."""
    if isinstance(value, list | tuple):
        return [_shape(v) for v in value]
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None:
        return (repr(value), to_dict())
    return repr(value)


def _without_seqs(shape: object) -> str:
    """A shape with store-drawn sequence numbers (event ids, cursors) blanked out.

    The store contract lets a store skip numbers (PostgreSQL sequences do not roll back), so
    only their order, not their values, must agree.
    """
    text = re.sub(r"(evt|grant)_\d+", r"\1_#", repr(shape))
    return re.sub(r"(next_cursor=|'next_cursor': )'(\d+)\.\d+'", r"\1'\2.#'", text)


def _outcome(call: Callable[[], object]) -> Shape:
    """What a call returned, or the class, code and message of the MeterError it raised."""
    try:
        return ("ok", _shape(call()))
    except MeterError as exc:
        return ("error", type(exc).__name__, exc.code, str(exc))


def _resolve(value: object, now: int) -> object:
    """("ahead", ms) / ("ago", ms) become epoch ms from now, inside dicts and lists too."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] in ("ahead", "ago"):
        return now + value[1] if value[0] == "ahead" else now - value[1]
    if isinstance(value, dict):
        return {k: _resolve(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, now) for v in value]
    return value


class StoreAgreement(RuleBasedStateMachine):
    """One Ledger per store, driven in lockstep; every answer must agree."""

    with_postgres = False

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="meterlib-agreement-"))
        self.path = self.tmp / "meter.db"
        stores: list[Store] = [MemoryStore(), SQLiteStore(self.path), SQLiteStore(":memory:")]
        if self.with_postgres:
            stores.append(throwaway_store())
        self.clocks = [ManualClock(START) for _ in stores]
        self.ledgers = [
            Ledger(store, clock=clock) for store, clock in zip(stores, self.clocks, strict=True)
        ]
        self.lock_ids: set[str] = set()
        self.inboxes: list[list[object]] = [[] for _ in self.ledgers]
        for ledger, inbox in zip(self.ledgers, self.inboxes, strict=True):
            ledger.subscribe(inbox.append)
        self.all(lambda ledger: ledger.create_feature("f", event_names=("ev", "f_only")))
        self.all(lambda ledger: ledger.create_feature("g", event_names=("ev",)))
        self.all(lambda ledger: ledger.create_feature("seats", consumable=False))
        self.all(
            lambda ledger: ledger.create_feature(
                "credits", type="credit_system", credit_schema={"f": 2, "g": "0.5"}
            )
        )
        self.all(lambda ledger: ledger.create_feature("sso", type="boolean"))

    @initialize(
        grants=st.lists(
            st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(METERED[:3]), create_args()),
            max_size=4,
        )
    )
    def start(self, grants: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Both customers exist with a monthly 100 of f and entities (c2 has no e2), and then a
        few random grants."""
        for customer in CUSTOMERS:
            self.all(lambda ledger, customer=customer: ledger.create_customer(customer))  # type: ignore[misc]
        for customer, entity in (("c1", "e1"), ("c1", "e2"), ("c2", "e1")):
            self.all(
                lambda ledger, c=customer, e=entity: ledger.create_entity(c, e)  # type: ignore[misc]
            )
        for customer in CUSTOMERS:
            self.create(
                customer=customer,
                feature="f",
                entity=None,
                kw={"included": 100, "reset": "month", "balance_id": "b1"},
                flag=False,
            )
        for customer, feature, kw in grants:
            self.create(customer=customer, feature=feature, entity=None, kw=kw, flag=False)

    def teardown(self) -> None:
        for ledger in self.ledgers:
            ledger.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def now(self) -> int:
        now = self.clocks[0]()
        assert all(clock() == now for clock in self.clocks)
        return now

    def all(self, call: Callable[[Ledger], object]) -> Shape:
        """Call every ledger the same way; they must all answer, and notify, the same."""
        first, *others = [
            (_outcome(lambda ledger=ledger: call(ledger)), _shape(inbox))
            for ledger, inbox in zip(self.ledgers, self.inboxes, strict=True)
        ]
        for inbox in self.inboxes:
            inbox.clear()
        for index, other in enumerate(others, start=1):
            if index == 3:  # PostgreSQL: sequences skip the numbers a rolled-back call drew
                assert _without_seqs(other) == _without_seqs(first), (
                    f"{self.ledgers[index]!r} disagrees with the memory store"
                )
                continue
            assert other == first, f"{self.ledgers[index]!r} disagrees with the memory store"
        return first[0]

    # ---- balances

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        feature=features,
        entity=entities,
        kw=create_args(),
        flag=st.booleans(),
    )
    def create(
        self, *, customer: str, feature: str, entity: str | None, kw: dict[str, Any], flag: bool
    ) -> None:
        if feature == "sso" and flag:  # a flag takes no amount: mostly keep its create valid
            kw = {k: v for k, v in kw.items() if k in ("expires_at", "balance_id", "plan_id")}
        kw = _resolve(kw, self.now)  # type: ignore[assignment]
        self.all(lambda ledger: ledger.create(customer, feature, entity_id=entity, **kw))

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        feature=metered,
        entity=entities,
        kw=update_args(),
    )
    def update(self, customer: str, feature: str, entity: str | None, kw: dict[str, Any]) -> None:
        kw = _resolve(kw, self.now)  # type: ignore[assignment]
        self.all(lambda ledger: ledger.update(customer, feature, entity_id=entity, **kw))

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        feature=_maybe(st.sampled_from(FEATURES)),
        entity=entities,
        balance_id=_maybe(st.sampled_from(BALANCE_IDS)),
        interval=_maybe(st.sampled_from(INTERVALS)),
        recalculate=st.booleans(),
    )
    def delete(
        self,
        *,
        customer: str,
        feature: str | None,
        entity: str | None,
        balance_id: str | None,
        interval: str | None,
        recalculate: bool,
    ) -> None:
        self.all(
            lambda ledger: ledger.delete(
                customer,
                feature_id=feature,
                entity_id=entity,
                balance_id=balance_id,
                interval=interval,
                recalculate_balances=recalculate,
            )
        )

    @rule(customer=st.sampled_from(CUSTOMERS), entity=st.sampled_from(ENTITIES), seat=st.booleans())
    def create_entity(self, customer: str, entity: str, seat: bool) -> None:
        feature = "seats" if seat else None
        self.all(lambda ledger: ledger.create_entity(customer, entity, feature_id=feature))

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        entity=entities,
        customer_controls=st.sampled_from(CUSTOMER_CONTROLS),
        entity_controls=st.sampled_from(ENTITY_CONTROLS),
    )
    def controls(
        self,
        *,
        customer: str,
        entity: str | None,
        customer_controls: dict[str, Any],
        entity_controls: dict[str, Any],
    ) -> None:
        if entity is None:
            self.all(
                lambda ledger: ledger.update_customer(customer, billing_controls=customer_controls)
            )
        else:
            self.all(
                lambda ledger: ledger.update_entity(
                    customer, entity, billing_controls=entity_controls
                )
            )

    # ---- more catalogue calls

    @rule(customer=st.sampled_from(CUSTOMERS), entity=entities)
    def delete_subject(self, customer: str, entity: str | None) -> None:
        if entity is None:
            self.all(lambda ledger: ledger.delete_customer(customer))
        else:
            self.all(lambda ledger: ledger.delete_entity(customer, entity))

    @rule(
        feature=st.sampled_from(FEATURES),
        names=st.sampled_from([None, ["ev"], ["f_only"], ["nobody", "ev"]]),
        delete=st.booleans(),
    )
    def change_feature(self, feature: str, names: list[str] | None, delete: bool) -> None:
        if delete:
            self.all(lambda ledger: ledger.delete_feature(feature))
        else:
            self.all(lambda ledger: ledger.update_feature(feature, event_names=names, name="N"))

    @rule(owner=st.sampled_from([None, *CUSTOMERS]), limit=st.integers(1, 3))
    def list_pages(self, owner: str | None, limit: int) -> None:
        self.all(lambda ledger: ledger.list_customers(limit=limit))
        self.all(lambda ledger: ledger.list_entities(owner, limit=limit))

    # ---- usage

    @rule(kw=track_args())
    def track(self, kw: dict[str, Any]) -> None:
        kw = _resolve(kw, self.now)  # type: ignore[assignment]
        self.all(lambda ledger: ledger.track(**kw))

    @rule(items=st.lists(track_args(), max_size=4))
    def batch_track(self, items: list[dict[str, Any]]) -> None:
        resolved = _resolve(items, self.now)
        self.all(lambda ledger: ledger.batch_track(resolved))  # type: ignore[arg-type]

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        feature=features,
        entity=entities,
        # few amounts, so that the same check comes back after writes and clock moves
        required=st.sampled_from([1, 1, 1, 5, "2.50", 40]),
        preview=st.sampled_from([False, False, True]),
        props=st.sampled_from([None, None, {"region": "eu"}]),
    )
    def plain_check(
        self,
        *,
        customer: str,
        feature: str,
        entity: str | None,
        required: object,
        preview: bool,
        props: dict[str, Any] | None,
    ) -> None:
        """A check a MemoryStore's Ledger may answer again from the last identical one."""
        for _ in range(2):
            self.all(
                lambda ledger: ledger.check(
                    customer,
                    feature,
                    entity_id=entity,
                    required_balance=required,
                    with_preview=preview,
                    properties=props,
                )
            )

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        feature=features,
        entity=entities,
        kw=check_args(),
    )
    def check(self, customer: str, feature: str, entity: str | None, kw: dict[str, Any]) -> None:
        kw = _resolve(kw, self.now)  # type: ignore[assignment]
        if "lock" in kw:
            self.lock_ids.add(kw["lock"]["lock_id"])
        self.all(lambda ledger: ledger.check(customer, feature, entity_id=entity, **kw))

    @rule(
        customer=st.sampled_from(CUSTOMERS),
        feature=st.sampled_from(["f", "g", "credits"]),
        lock_id=st.sampled_from(LOCKS),
        required=amounts(0, 30).flatmap(as_input),
        expires=_maybe(st.integers(1, DAY)),
    )
    def lock(
        self, *, customer: str, feature: str, lock_id: str, required: object, expires: int | None
    ) -> None:
        lock: dict[str, Any] = {"lock_id": lock_id}
        if expires is not None:
            lock["expires_at"] = self.now + expires
        self.lock_ids.add(lock_id)
        self.all(
            lambda ledger: ledger.check(customer, feature, required_balance=required, lock=lock)
        )

    @precondition(lambda self: bool(self.lock_ids))
    @rule(
        lock_id=st.sampled_from(LOCKS),
        action=st.sampled_from(["confirm", "confirm", "release", "keep"]),
        override=_maybe(quantities),
        props=properties,
    )
    def finalize(self, lock_id: str, action: str, override: object, props: Any) -> None:
        self.all(
            lambda ledger: ledger.finalize(
                lock_id, action=action, override_value=override, properties=props
            )
        )

    @rule(
        key=st.sampled_from(KEYS), scope=st.sampled_from(["request", "track"]), claim=st.booleans()
    )
    def idempotency(self, key: str, scope: str, claim: bool) -> None:
        if claim:
            self.all(lambda ledger: ledger.claim_idempotency_key(key, scope=scope))
        else:
            self.all(lambda ledger: ledger.release_idempotency_key(key, scope=scope))

    # ---- time and the file

    @rule(move=moves)
    def advance(self, move: dict[str, int]) -> None:
        for clock in self.clocks:
            clock.advance(**move)

    @rule()
    def reopen(self) -> None:
        """Close the SQLite file and open it again in a new Ledger (a cold catalogue too)."""
        self.ledgers[1].close()
        self.ledgers[1] = Ledger(SQLiteStore(self.path), clock=self.clocks[1])
        self.ledgers[1].subscribe(self.inboxes[1].append)

    # ---- reads

    @rule(customer=st.sampled_from(CUSTOMERS), entity=entities, feature=st.sampled_from(FEATURES))
    def read_subject(self, customer: str, entity: str | None, feature: str) -> None:
        self.all(lambda ledger: ledger.balance(customer, feature, entity_id=entity))
        self.all(lambda ledger: ledger.balances(customer, entity_id=entity))
        self.all(lambda ledger: ledger.flags(customer, entity_id=entity))
        self.all(
            lambda ledger: ledger.grants(customer, entity_id=entity, statuses=("active", "expired"))
        )

    @rule(
        customer=_maybe(st.sampled_from(CUSTOMERS)),
        feature=_maybe(st.sampled_from(FEATURES)),
        entity=entities,
        start=_maybe(st.integers(0, 40 * DAY)),
        limit=st.integers(1, 4),
    )
    def read_events(
        self,
        customer: str | None,
        feature: str | None,
        entity: str | None,
        start: int | None,
        limit: int,
    ) -> None:
        lower = None if start is None else self.now - start
        # each ledger follows its own cursors: they carry store-drawn sequence numbers
        cursors: dict[int, str | None] = {id(ledger): None for ledger in self.ledgers}

        def page_of(ledger: Ledger) -> EventPage:
            page = ledger.events(
                customer,
                feature_id=feature,
                entity_id=entity,
                start=lower,
                end=self.now + 1,
                limit=limit,
                cursor=cursors[id(ledger)],
            )
            cursors[id(ledger)] = page.next_cursor
            return page

        for _ in range(3):  # the first pages, following the cursors
            page = self.all(page_of)
            if page[0] != "ok":  # type: ignore[index]
                return
            if page[1][1]["next_cursor"] is None:  # type: ignore[index]
                return

    @rule(customer=st.sampled_from(CUSTOMERS), entity=st.sampled_from(ENTITIES))
    def read_catalogue(self, customer: str, entity: str) -> None:
        self.all(lambda ledger: ledger.list_features())
        self.all(lambda ledger: ledger.list_customers())
        self.all(lambda ledger: ledger.get_customer(customer))
        self.all(lambda ledger: ledger.get_entity(customer, entity))

    @invariant()
    def same_balances_and_events(self) -> None:
        """Every customer's balances and newest events are the same in every store."""
        for customer in CUSTOMERS:
            self.all(lambda ledger, customer=customer: ledger.balances(customer))  # type: ignore[misc]
            self.all(lambda ledger, customer=customer: ledger.events(customer, limit=1000))  # type: ignore[misc]


FAST = settings(
    max_examples=20,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# 150 long programs: each step now also compares usage reports, pages and deletes, and the
# CI's slow run must stay within its share of twenty minutes
HEAVY = settings(
    max_examples=150,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class StoreAgreementWithPostgres(StoreAgreement):
    """The same machine with a PostgreSQL store beside the others."""

    with_postgres = True


class TestStoreAgreement:
    """The memory store, a SQLite file and SQLite :memory: answer the same operations alike."""

    def test_random_programs(self) -> None:
        """Random operations and clock moves give identical results and state in every store."""
        run_state_machine_as_test(StoreAgreement, settings=FAST)

    @pytest.mark.slow
    def test_many_long_programs(self) -> None:
        """The same over many more and longer programs (run by name in CI)."""
        run_state_machine_as_test(StoreAgreement, settings=HEAVY)

    def test_random_programs_with_postgres(self) -> None:
        """PostgreSQL agrees too (run with METERLIB_TEST_POSTGRES=require ... -k postgres)."""
        if not (os.environ.get(MODE_VARIABLE) == "require" or os.environ.get(URL_VARIABLE)):
            pytest.skip("PostgreSQL runs are opt-in: set METERLIB_TEST_POSTGRES=require")
        run_state_machine_as_test(StoreAgreementWithPostgres, settings=FAST)
