"""list_customers and list_entities: pages, cursors and their refusals, on every store."""

from __future__ import annotations

import pytest

from meterlib import CustomerNotFound, InvalidRequest, Ledger


@pytest.fixture
def listed(ledger: Ledger) -> Ledger:
    """Customers a, b, c; entities a/x, a/y, b/x, c/z."""
    for customer, entity in (("a", "x"), ("a", "y"), ("b", "x"), ("c", "z")):
        ledger.create_entity(ledger.create_customer(customer).id, entity)
    return ledger


class TestPages:
    """Pages follow one another by cursor; a cursor says where the last page ended."""

    def test_customer_pages(self, listed: Ledger) -> None:
        """Two pages of two, then none: the last page has no next cursor."""
        first = listed.list_customers(limit=2)
        assert [c.id for c in first.customers] == ["a", "b"]
        second = listed.list_customers(limit=2, cursor=first.next_cursor)
        assert ([c.id for c in second.customers], second.next_cursor) == (["c"], None)
        assert listed.list_customers(limit=3).next_cursor is None

    def test_entity_pages_of_one_customer_and_of_all(self, listed: Ledger) -> None:
        """One customer's entities, or every customer's in (customer, id) order."""
        assert [e.id for e in listed.list_entities("a").entities] == ["x", "y"]
        every = listed.list_entities(limit=3)
        keys = [(e.customer_id, e.id) for e in every.entities]
        assert keys == [("a", "x"), ("a", "y"), ("b", "x")]
        rest = listed.list_entities(limit=3, cursor=every.next_cursor)
        assert [(e.customer_id, e.id) for e in rest.entities] == [("c", "z")]

    def test_a_cursor_of_the_whole_listing_within_one_customer(self, listed: Ledger) -> None:
        """A cursor that ended in another customer's entities: one before this customer
        starts from its first entity, one after it lists nothing."""
        page = listed.list_entities(limit=2)  # ends at a/y
        assert [e.id for e in listed.list_entities("b", cursor=page.next_cursor).entities] == ["x"]
        page = listed.list_entities(limit=3)  # ends at b/x
        assert listed.list_entities("a", cursor=page.next_cursor).entities == ()

    def test_refusals(self, listed: Ledger) -> None:
        """A cursor of another kind or of nothing, a limit below 1, an unknown customer."""
        customers_cursor = listed.list_customers(limit=1).next_cursor
        for call in (
            lambda: listed.list_entities(cursor=customers_cursor),
            lambda: listed.list_customers(cursor="not a cursor"),
            lambda: listed.list_customers(limit=0),
            lambda: listed.list_entities(limit=True),  # type: ignore[arg-type]
        ):
            with pytest.raises(InvalidRequest) as info:
                call()
            assert info.value.code == "invalid_inputs"
        with pytest.raises(CustomerNotFound):
            listed.list_entities("nobody")
