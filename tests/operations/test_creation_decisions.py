"""create and the catalogue calls as decisions alone: hand-made states, no store, no clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterlib import controls
from meterlib.effects import Asks
from meterlib.errors import AlreadyExists, CustomerNotFound, EntityNotFound, InvalidRequest
from meterlib.models import ONE_OFF, Entity
from meterlib.operations.creation import CreateArgs, decide_create
from meterlib.operations.customers import (
    CustomerArgs,
    EntityArgs,
    decide_create_customer,
    decide_create_entity,
    decide_update_customer,
    decide_update_entity,
)
from meterlib.operations.features import FeatureArgs, decide_create_feature
from meterlib.rules.context import Asked, Context
from meterlib.state import Catalogue, CustomerState
from meterlib.testing import T0, customer, entity, feature, grant

D = Decimal
CATALOGUE = Catalogue([feature("api_calls", seq=1), feature("sso", type="boolean", seq=2)])
CTX = Context(T0)


def state(
    *grants: object,
    present: bool = True,
    entities: dict[str, Entity] | None = None,
    grant_seqs: tuple[int, ...] = (7,),
) -> CustomerState:
    return CustomerState(
        "cus_1",
        customer() if present else None,
        entities or {},
        grants,  # type: ignore[arg-type]
        (),
        {},
        {},
        {},
        {"grant": grant_seqs},
        CATALOGUE,
    )


def create(
    feature_id: str = "api_calls",
    *,
    included: str | None = "10",
    entity_id: str | None = None,
    balance_id: str | None = None,
) -> CreateArgs:
    amount = None if included is None else D(included)
    return CreateArgs(
        "cus_1", feature_id, entity_id, amount, False, ONE_OFF, 1, False, None, None, None,
        balance_id, False, None, None,
    )  # fmt: skip


class TestCreate:
    def test_a_new_customer_gets_the_grant_numbered_from_the_load(self) -> None:
        decision = decide_create(state(present=False), CTX, create())
        effects = decision.effects
        assert effects.customer is not None and effects.customer.id == "cus_1"
        assert [(g.id, g.balance) for g in effects.grants] == [("grant_7", D(10))]
        assert effects.features == ()
        assert decision.result is not None and decision.result.remaining == D(10)

    def test_a_new_feature_asks_for_its_number_then_is_written(self) -> None:
        with pytest.raises(Asked) as asked:
            decide_create(state(), CTX, create("tokens"))
        assert asked.value.asks == Asks(seqs=(("feature", 1),))
        decision = decide_create(state(), CTX._replace(seqs={"feature": (3,)}), create("tokens"))
        assert [(f.id, f.seq) for f in decision.effects.features] == [("tokens", 3)]
        assert decision.effects.customer is None  # it was there

    def test_a_missing_entity_is_made_and_its_own_feature_refused(self) -> None:
        made = decide_create(state(), CTX, create(entity_id="seat_1")).effects.entities
        assert [e.id for e in made] == ["seat_1"]
        own = {"seat_1": entity("seat_1", feature_id="api_calls")}
        with pytest.raises(InvalidRequest, match="its own feature"):
            decide_create(state(entities=own), CTX, create(entity_id="seat_1"))

    def test_a_balance_id_in_use_and_a_second_flag_are_refused(self) -> None:
        taken = grant("g1", balance_id="main", balance=D(1), included=D(1))
        with pytest.raises(AlreadyExists, match="balance_id 'main'"):
            decide_create(state(taken), CTX, create(balance_id="main"))
        flag = grant("g2", seq=2, feature_id="sso")
        with pytest.raises(AlreadyExists, match="boolean entitlement sso"):
            decide_create(state(flag), CTX, create("sso", included=None))

    def test_a_metered_grant_needs_an_amount(self) -> None:
        with pytest.raises(InvalidRequest, match="exactly one of included"):
            decide_create(state(), CTX, create(included=None))


class TestCatalogue:
    def test_create_feature_asks_for_its_number_and_refuses_a_taken_id(self) -> None:
        args = FeatureArgs("tokens", None, "metered", True, (), None)
        with pytest.raises(Asked):
            decide_create_feature(CATALOGUE, CTX, args)
        decision = decide_create_feature(CATALOGUE, CTX._replace(seqs={"feature": (9,)}), args)
        assert decision.effects.features == (decision.result,)
        assert decision.result.seq == 9
        with pytest.raises(AlreadyExists):
            decide_create_feature(CATALOGUE, CTX, args._replace(feature_id="api_calls"))

    def test_create_customer_writes_only_a_new_one(self) -> None:
        args = CustomerArgs("cus_1", "Ada", None, {})
        assert not decide_create_customer(state(), CTX, args).effects
        made = decide_create_customer(state(present=False), CTX, args)
        assert made.effects.customer == made.result and made.result.name == "Ada"

    def test_update_customer_keeps_what_is_not_given(self) -> None:
        patch = controls.validate({"spend_limits": []})
        args = CustomerArgs("cus_1", None, "a@b.c", None, patch)
        decision = decide_update_customer(state(), CTX, args)
        assert decision.result.email == "a@b.c" and decision.result.name is None
        assert decision.result.billing_controls == {"spend_limits": []}
        assert decision.effects.customer == decision.result
        with pytest.raises(CustomerNotFound):
            decide_update_customer(state(present=False), CTX, args)

    def test_entities_are_made_once_and_patched(self) -> None:
        args = EntityArgs("cus_1", "seat_1", "api_calls", "Seat")
        made = decide_create_entity(state(), CTX, args)
        assert made.effects.entities == (made.result,)
        there = {"seat_1": made.result}
        assert not decide_create_entity(state(entities=there), CTX, args).effects
        patch = EntityArgs("cus_1", "seat_1", billing_controls=controls.validate({}, entity=True))
        unpatched = patch._replace(billing_controls=None)
        assert not decide_update_entity(state(entities=there), CTX, unpatched).effects
        patched = decide_update_entity(state(entities=there), CTX, patch)
        assert patched.effects.entities == (patched.result,)
        with pytest.raises(EntityNotFound):
            decide_update_entity(state(), CTX, patch)
