"""create_feature: a new catalogue entry. Pure (the catalogue is the state it reads)."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from meterlib.effects import Asks, Decision, Effects
from meterlib.errors import AlreadyExists
from meterlib.models import Feature
from meterlib.rules.context import Asked, Context
from meterlib.state import Catalogue


class FeatureArgs(NamedTuple):
    """A validated create_feature request."""

    feature_id: str
    name: str | None
    type: str
    consumable: bool
    event_names: tuple[str, ...]
    credit_schema: dict[str, Decimal] | None


def decide_create_feature(
    catalogue: Catalogue, ctx: Context, args: FeatureArgs
) -> Decision[Feature]:
    """The feature added (AlreadyExists when the id is taken); its number is asked for."""
    if args.feature_id in catalogue.by_id:
        raise AlreadyExists(f"Feature {args.feature_id} already exists", code="already_exists")
    seqs = ctx.seqs.get("feature")
    if not seqs:
        raise Asked(Asks(seqs=(("feature", 1),)))
    kind = args.type
    feature = Feature(
        id=args.feature_id,
        name=args.name,
        type=kind,
        consumable=args.consumable if kind == "metered" else kind != "boolean",
        event_names=args.event_names,
        credit_schema=args.credit_schema,
        seq=seqs[0],
    )
    return Decision(feature, Effects(features=(feature,)))
