"""Arguments of the catalogue calls beyond create: pages, deletes and `update_feature`.

Page cursors are opaque to callers: the url-safe base64 of a JSON list naming the kind of
page and the last item's key, so a cursor of one listing is refused by the other.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

from meterlib import validation
from meterlib.errors import InvalidRequest
from meterlib.state import Want

_MOST = 2**62  # the largest page size taken: SQL integers are 64-bit


class PageQuery(NamedTuple):
    """A validated page request: the items after `after` (None: from the first), `limit`."""

    customer_id: str | None
    after: tuple[str, ...] | None
    limit: int


class EntityRef(NamedTuple):
    """A validated delete_customer / delete_entity request (no entity: the customer)."""

    customer_id: str
    entity_id: str | None = None

    def want(self) -> Want:
        """What a delete loads: the customer and the entity named."""
        return Want(self.customer_id, () if self.entity_id is None else (self.entity_id,))


class FeatureChange(NamedTuple):
    """A validated update_feature request (None: keep the field)."""

    feature_id: str
    name: str | None
    event_names: tuple[str, ...] | None
    credit_schema: dict[str, Decimal] | None


def cursor_of(kind: str, key: Sequence[str]) -> str:
    """The cursor of a page that ends at the item keyed `key`."""
    text = json.dumps([kind, *key], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _after(kind: str, cursor: object, size: int) -> tuple[str, ...] | None:
    if cursor is None:
        return None
    refused = InvalidRequest(
        f"cursor: {validation.shown(cursor)} is not a next_cursor this listing returned "
        f"(pass None for the first page)",
        field="cursor",
    )
    if not isinstance(cursor, str) or not cursor or len(cursor) > 4096:
        raise refused
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeError):
        raise refused from None
    if (
        not isinstance(found, list)
        or len(found) != size + 1
        or found[0] != kind
        or not all(isinstance(part, str) for part in found[1:])
    ):
        raise refused
    return tuple(validation.require_id(part, "cursor") for part in found[1:])


def _limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequest(
            f"limit: must be a whole number >= 1 (received {validation.shown(limit)})",
            field="limit",
        )
    return min(limit, _MOST)


def customer_page(limit: object, cursor: object) -> PageQuery:
    """`Ledger.list_customers`' arguments."""
    return PageQuery(None, _after("customers", cursor, 1), _limit(limit))


def entity_page(customer_id: object, limit: object, cursor: object) -> PageQuery:
    """`Ledger.list_entities`' arguments."""
    owner = validation.optional_id(customer_id, "customer_id")
    return PageQuery(owner, _after("entities", cursor, 2), _limit(limit))


def entity_ref(customer_id: object, entity_id: object = None, *, entity: bool) -> EntityRef:
    """`delete_customer`'s (`entity` False) or `delete_entity`'s arguments."""
    owner = validation.require_id(customer_id, "customer_id")
    if not entity:
        return EntityRef(owner)
    return EntityRef(owner, validation.require_id(entity_id, "entity_id"))


def feature_change(
    feature_id: object,
    name: object,
    event_names: Sequence[str] | None,
    credit_schema: Mapping[str, object] | None,
) -> FeatureChange:
    """`Ledger.update_feature`'s arguments (whether a schema fits the feature is decided
    against the catalogue)."""
    return FeatureChange(
        validation.require_id(feature_id, "feature_id"),
        validation.optional_text(name, "name"),
        None if event_names is None else validation.event_names(event_names),
        validation.credit_schema(credit_schema),
    )
