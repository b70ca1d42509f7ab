"""`Ledger.dump` and `Ledger.restore`: the whole ledger out as JSON lines, and back into an
empty ledger on any store (the format is `meterlib.dump_records`).

A dump reads everything in ONE read transaction, so it is a consistent snapshot however many
writers run meanwhile. A restore writes everything in ONE write transaction: all of the dump,
or (any error) nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

from meterlib import dump_records as fmt
from meterlib import validation
from meterlib.effects import Effects
from meterlib.errors import InvalidRequest
from meterlib.hourly_totals import HourlyTotal
from meterlib.models import Customer, EventRecord
from meterlib.stores.protocol import Store, StoreSession

PAGE = 2000  # events read or written at a time
ALL_TIME = 1 << 62  # beyond every instant, either way


def dump_to(store: Store, now: int, fp: IO[str]) -> int:
    """Write the ledger to `fp` as of `now` (the clock of the Ledger); the records written."""
    _file(fp, "write", "written to")
    fp.write(fmt.header(now) + "\n")
    count = 0
    with store.transaction(write=False) as session:
        for kind, model in _records(session, now):
            fp.write(fmt.record(kind, model) + "\n")
            count += 1
    return count


def _records(session: StoreSession, now: int) -> Iterator[tuple[str, Any]]:
    for kind, value in sorted(session.seq_values().items()):
        if (
            value > 0
        ):  # 0: nothing handed out yet, however the store keeps that (a dump is canonical)
            yield "seq", (kind, value)
    for feature in session.list_features():
        yield "feature", feature
    for customer in session.list_customers():
        yield "customer", customer
        cid = customer.id
        yield from (("entity", e) for e in session.list_entities(cid))
        yield from (("grant", g) for g in session.list_grants(cid))
        yield from (("lock", lk) for lk in session.list_locks(cid))
        yield from (("counter", c) for c in session.list_counters(cid))
    for key in session.list_idempotency_keys(now):  # spent keys are as good as absent
        yield "key", key
    through = session.pruned_through()
    if through is not None:
        yield "pruned", through
    yield from (("total", t) for t in session.list_hourly_totals(-ALL_TIME, ALL_TIME))
    yield from (("event", e) for e in all_events(session))


def all_events(session: StoreSession, *, page: int = PAGE) -> Iterator[EventRecord]:
    """Every event, newest first, `page` at a time (the store's own order and index)."""
    before: tuple[int, int] | None = None
    while True:
        found = _page(session, before, page)
        yield from found
        if len(found) < page:
            return
        before = (found[-1].timestamp, found[-1].seq)


def _page(session: StoreSession, before: tuple[int, int] | None, limit: int) -> list[EventRecord]:
    return session.list_events(
        customer_id=None,
        feature_id=None,
        entity_id=None,
        start=None,
        end=None,
        before=before,
        limit=limit,
    )


def restore_from(
    store: Store, fp: IO[str], *, progress: Callable[[int], None] | None = None
) -> int:
    """Write the dump `fp` holds into the empty `store`, all or nothing; the records read.
    `progress(records)` is told now and then how far it got."""
    _file(fp, "readline", "read from")
    lines = iter(fp)
    first = next(lines, "")
    fmt.read_header(first)
    count = 0
    with store.transaction(write=True) as session:
        _refuse_unless_empty(session)
        writer = _Writer(session)
        for number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            writer.add(*fmt.read_record(line, number))
            count += 1
            if progress is not None and count % PAGE == 0:
                progress(count)
        writer.flush()
    if progress is not None:
        progress(count)
    return count


def _file(fp: object, method: str, what: str) -> None:
    if not callable(getattr(fp, method, None)):
        raise InvalidRequest(
            f"fp: expected a text file to be {what}, such as open(path, encoding='utf-8') "
            f"(received {validation.shown(fp)})",
            field="fp",
        )


def _refuse_unless_empty(session: StoreSession) -> None:
    held = {
        "features": len(session.list_features()),
        "customers": len(session.list_customers()),
        "idempotency keys": len(session.list_idempotency_keys(-1)),
        "hourly totals": len(session.list_hourly_totals(-ALL_TIME, ALL_TIME)),
    }
    if _page(session, None, 1):
        held["events"] = 1
    found = [what for what, n in held.items() if n]
    if found:
        raise InvalidRequest(
            f"restore: the ledger is not empty (it holds {', '.join(found)}); restore into "
            "a new, empty store (a new SQLite file or PostgreSQL schema)"
        )


_FIELDS = {"feature": "features", "entity": "entities", "grant": "grants", "lock": "locks"}


class _Writer:
    """Gathers records into Effects: one per customer (with all it owns), events and keys
    a page at a time, so a big dump never sits in memory whole."""

    def __init__(self, session: StoreSession) -> None:
        self.session = session
        self.customer: Customer | None = None
        self.owned: dict[str, list[Any]] = {f: [] for f in (*_FIELDS.values(), "counters")}
        self.events: list[EventRecord] = []
        self.keys: list[tuple[str, int]] = []
        self.totals: list[HourlyTotal] = []

    def add(self, kind: str, model: Any) -> None:
        if kind == "seq":
            self.session.restore_seq(*model)
        elif kind == "pruned":
            self.session.set_pruned_through(model)
        elif kind == "total":
            self.totals.append(model)
            if len(self.totals) >= PAGE:
                self.session.add_hourly_totals(self.totals)
                self.totals = []
        elif kind == "event":
            self.events.append(model)
            if len(self.events) >= PAGE:
                self._write(Effects(events=tuple(self.events)))
                self.events = []
        elif kind == "key":
            self.keys.append(model)
            if len(self.keys) >= PAGE:
                self._write(Effects(claims=tuple(self.keys)))
                self.keys = []
        elif kind == "customer":
            self._flush_owned()
            self.customer = model
        else:
            self.owned[_FIELDS.get(kind, "counters")].append(model)

    def _flush_owned(self) -> None:
        owned = self.owned
        self._write(
            Effects(
                customer=self.customer,
                features=tuple(owned["features"]),
                entities=tuple(owned["entities"]),
                grants=tuple(owned["grants"]),
                locks=tuple(owned["locks"]),
                counters=tuple(owned["counters"]),
            )
        )
        self.customer = None
        self.owned = {field: [] for field in self.owned}

    def flush(self) -> None:
        self._flush_owned()
        self._write(Effects(events=tuple(self.events), claims=tuple(self.keys)))
        if self.totals:
            self.session.add_hourly_totals(self.totals)

    def _write(self, effects: Effects) -> None:
        if effects:
            self.session.restore_rows(effects)
