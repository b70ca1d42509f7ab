"""Properties of the deletes and the pages, on every store: a delete touches nothing else,
and a walk through the pages meets every item exactly once while items come and go."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterlib import Ledger

# the `ledger` fixture is built once per test, not per example: every example works on
# customers of its own (a fresh prefix), so examples cannot see each other
FAST = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_examples = itertools.count()
CUSTOMERS = ("c0", "c1", "c2")
ENTITIES = ("e0", "e1")
# ids whose code-point order differs from a naive or a case-folding one
NAMES = st.sampled_from(["a", "B", "b", "ä", "z", "Z9", "a b", "日本", "a/1", "aa"])


@st.composite
def worlds(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    """Grants, entity grants, tracks and customer-level locks over three customers."""
    steps: list[tuple[str, dict[str, Any]]] = []
    for customer in CUSTOMERS:
        steps.append(("create", {"customer_id": customer, "feature_id": "f", "included": 50}))
    for _ in range(draw(st.integers(0, 8))):
        customer = draw(st.sampled_from(CUSTOMERS))
        entity = draw(st.sampled_from((None, *ENTITIES)))
        kind = draw(st.sampled_from(["create", "track", "lock"]))
        feature = draw(st.sampled_from(["f", "g"]))
        if kind == "create":
            steps.append(
                (
                    "create",
                    {
                        "customer_id": customer,
                        "feature_id": feature,
                        "entity_id": entity,
                        "included": draw(st.integers(0, 20)),
                        "reset": draw(st.sampled_from([None, "month"])),
                    },
                )
            )
        elif kind == "track":
            steps.append(
                (
                    "track",
                    {
                        "customer_id": customer,
                        "feature_id": "f",
                        "entity_id": entity,
                        "value": draw(st.integers(1, 5)),
                    },
                )
            )
        else:  # locks on the customer only: an entity's locks are released into its grants
            steps.append(("check", {"customer_id": customer, "feature_id": "f", "lock": True}))
    return steps


def build(ledger: Ledger, prefix: str, steps: list[tuple[str, dict[str, Any]]]) -> None:
    for n, (call, args) in enumerate(steps):
        kw = {**args, "customer_id": prefix + args["customer_id"]}
        if kw.get("entity_id") is not None:
            ledger.create_entity(kw["customer_id"], kw["entity_id"])
        if call == "check":
            kw["lock"] = {"lock_id": f"{prefix}lock{n}"}
        getattr(ledger, call)(**kw)


def rows(ledger: Ledger, customer_id: str) -> dict[str, str]:
    """Every stored row of the customer, as the store hands it back (repr: digit for digit)."""
    with ledger.store.transaction(write=False) as tx:
        entities = tx.list_entities(customer_id)
        return {
            "customer": repr(tx.get_customer(customer_id)),
            "grants": repr(tx.list_grants(customer_id)),
            "locks": repr(tx.list_locks(customer_id)),
            "counters": repr(tx.list_counters(customer_id)),
            "events": repr(
                tx.list_events(
                    customer_id=customer_id,
                    feature_id=None,
                    entity_id=None,
                    start=None,
                    end=None,
                    before=None,
                    limit=1000,
                )
            ),
            **{f"entity {e.id}": repr(e) for e in entities},
        }


class TestDeletesTouchNothingElse:
    """A delete leaves every other customer, and every other entity, as it was."""

    @FAST
    @given(world=worlds(), target=st.sampled_from(CUSTOMERS))
    def test_delete_customer(self, ledger: Ledger, world: Any, target: str) -> None:
        """Every row of every other customer is unchanged, and the target has none left."""
        prefix = f"x{next(_examples)}-"
        build(ledger, prefix, world)
        others = [prefix + c for c in CUSTOMERS if c != target]
        before = {c: rows(ledger, c) for c in others}
        ledger.delete_customer(prefix + target)
        assert {c: rows(ledger, c) for c in others} == before
        gone = rows(ledger, prefix + target)
        assert gone["customer"] == "None"
        assert {k: v for k, v in gone.items() if k != "customer"} == {
            "grants": "[]",
            "locks": "[]",
            "counters": "[]",
            "events": "[]",
        }

    @FAST
    @given(world=worlds(), target=st.sampled_from(CUSTOMERS), entity=st.sampled_from(ENTITIES))
    def test_delete_entity(self, ledger: Ledger, world: Any, target: str, entity: str) -> None:
        """Other customers are unchanged; the owner keeps every row but the entity and its
        grants."""
        prefix = f"y{next(_examples)}-"
        build(ledger, prefix, world)
        owner = prefix + target
        ledger.create_entity(owner, entity)
        others = [prefix + c for c in CUSTOMERS if c != target]
        before = {c: rows(ledger, c) for c in others}
        own_before = rows(ledger, owner)
        with ledger.store.transaction(write=False) as tx:
            kept = [g for g in tx.list_grants(owner) if g.entity_id != entity]
        ledger.delete_entity(owner, entity)
        assert {c: rows(ledger, c) for c in others} == before
        own_after = rows(ledger, owner)
        assert own_after.pop("grants") == repr(kept)
        own_before.pop("grants")
        assert own_before.pop(f"entity {entity}")
        assert own_after == own_before


def walk(page_of: Any, limit: int, between: list[Any]) -> list[Any]:
    """Page after page until the end, running one of `between` after each page."""
    seen: list[Any] = []
    cursor = None
    for n in itertools.count():
        page, cursor = page_of(limit, cursor)
        seen += page
        if n < len(between):
            between[n]()
        if cursor is None:
            break
    return seen


class TestPagesMeetEveryItemOnce:
    """A walk through the pages, with items added and removed between pages, meets every
    item that was there throughout exactly once, in order, and nothing twice."""

    @FAST
    @given(
        start=st.sets(NAMES, min_size=0, max_size=8),
        changes=st.lists(st.tuples(st.booleans(), NAMES), max_size=6),
        limit=st.integers(1, 4),
    )
    def test_customers(
        self, ledger: Ledger, start: set[str], changes: list[tuple[bool, str]], limit: int
    ) -> None:
        prefix = f"p{next(_examples)}-"
        for name in start:
            ledger.create_customer(prefix + name)
        present, removed = set(start), set()

        def change(add: bool, name: str) -> None:
            if add:
                ledger.create_customer(prefix + name)
                present.add(name)
            elif name in present:
                ledger.delete_customer(prefix + name)
                present.discard(name)
                removed.add(name)

        def page_of(size: int, cursor: str | None) -> tuple[list[str], str | None]:
            page = ledger.list_customers(limit=size, cursor=cursor)
            return [c.id for c in page.customers], page.next_cursor

        seen = walk(page_of, limit, [lambda a=a, n=n: change(a, n) for a, n in changes])
        mine = [c[len(prefix) :] for c in seen if c.startswith(prefix)]
        assert mine == sorted(set(mine))  # in order, none twice
        assert start - removed <= set(mine)  # everything there throughout
        assert set(mine) <= start | {n for a, n in changes if a}

    @FAST
    @given(
        start=st.sets(st.tuples(st.sampled_from(CUSTOMERS), NAMES), max_size=8),
        changes=st.lists(st.tuples(st.booleans(), st.sampled_from(CUSTOMERS), NAMES), max_size=6),
        limit=st.integers(1, 4),
        owner=st.sampled_from([None, *CUSTOMERS]),
    )
    def test_entities(
        self,
        ledger: Ledger,
        start: set[tuple[str, str]],
        changes: list[tuple[bool, str, str]],
        limit: int,
        owner: str | None,
    ) -> None:
        prefix = f"q{next(_examples)}-"
        for customer in CUSTOMERS:
            ledger.create_customer(prefix + customer)
        for customer, name in start:
            ledger.create_entity(prefix + customer, name)
        present, removed = set(start), set()

        def change(add: bool, customer: str, name: str) -> None:
            if add:
                ledger.create_entity(prefix + customer, name)
                present.add((customer, name))
            elif (customer, name) in present:
                ledger.delete_entity(prefix + customer, name)
                present.discard((customer, name))
                removed.add((customer, name))

        def page_of(size: int, cursor: str | None) -> tuple[list[tuple[str, str]], str | None]:
            listed = None if owner is None else prefix + owner
            page = ledger.list_entities(listed, limit=size, cursor=cursor)
            return [(e.customer_id, e.id) for e in page.entities], page.next_cursor

        seen = walk(page_of, limit, [lambda c=c: change(*c) for c in changes])
        mine = [(c[len(prefix) :], e) for c, e in seen if c.startswith(prefix)]
        wanted = start | {(c, n) for a, c, n in changes if a}
        if owner is not None:
            wanted = {k for k in wanted if k[0] == owner}
            assert all(c == owner for c, _ in mine)
        assert mine == sorted(set(mine))
        assert {k for k in start - removed if owner is None or k[0] == owner} <= set(mine)
        assert set(mine) <= wanted
