"""update_customer / update_entity with billing_controls: validation, storage, per-key patching."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from meterlib import CustomerNotFound, EntityNotFound, InvalidRequest, Ledger

D = Decimal


@pytest.fixture
def seeded(ledger: Ledger) -> Ledger:
    """Customer c1 with an entity e1."""
    ledger.create_customer("c1")
    ledger.create_entity("c1", "e1")
    return ledger


def controls(ledger: Ledger, entity_id: str | None = None) -> dict[str, Any]:
    if entity_id is None:
        return ledger.get_customer("c1").billing_controls
    return ledger.get_entity("c1", entity_id).billing_controls


class TestStoredShape:
    """Entries are stored in Autumn's shape with its defaults written out, in every store."""

    def test_defaults_are_written_out(self, seeded: Ledger) -> None:
        """`enabled` defaults per control (spend limits and top-ups off, the rest on)."""
        seeded.update_customer(
            "c1",
            billing_controls={
                "spend_limits": [{"feature_id": "messages", "overage_limit": 50}],
                "usage_limits": [{"feature_id": "messages", "limit": 10, "interval": "day"}],
                "usage_alerts": [{"threshold": 80, "threshold_type": "usage_percentage"}],
                "overage_allowed": [{"feature_id": "messages"}],
                "auto_topups": [
                    {
                        "feature_id": "credits",
                        "threshold": -5,
                        "quantity": 100,
                        "purchase_limit": {"interval": "month", "limit": 5},
                    }
                ],
            },
        )
        assert controls(seeded) == {
            "spend_limits": [{"feature_id": "messages", "enabled": False, "overage_limit": 50}],
            "usage_limits": [
                {"feature_id": "messages", "enabled": True, "limit": 10, "interval": "day"}
            ],
            "usage_alerts": [
                {"enabled": True, "threshold": 80, "threshold_type": "usage_percentage"}
            ],
            "overage_allowed": [{"feature_id": "messages", "enabled": False}],
            "auto_topups": [
                {
                    "feature_id": "credits",
                    "enabled": False,
                    "threshold": -5,
                    "quantity": 100,
                    "purchase_limit": {"interval": "month", "interval_count": 1, "limit": 5},
                }
            ],
        }

    def test_amounts_are_exact_decimals(self, seeded: Ledger) -> None:
        """Numbers come back as exact Decimals, a float by its shortest repr."""
        seeded.update_customer(
            "c1",
            billing_controls={
                "spend_limits": [{"feature_id": "m", "enabled": True, "overage_limit": 0.1}]
            },
        )
        limit = controls(seeded)["spend_limits"][0]["overage_limit"]
        assert repr(limit) == "Decimal('0.1')"

    def test_filter_values_are_stored_as_strings(self, seeded: Ledger) -> None:
        """A filter value is stored as JavaScript's String() of it: 29384 → "29384"."""
        seeded.update_customer(
            "c1",
            billing_controls={
                "usage_limits": [
                    {
                        "feature_id": "m",
                        "limit": 1,
                        "interval": "day",
                        "anchor": "utc",
                        "filter": {"properties": {"key": 29384, "beta": True, "r": 5.0}},
                    }
                ]
            },
        )
        stored = controls(seeded)["usage_limits"][0]
        assert stored["filter"] == {"properties": {"key": "29384", "beta": "true", "r": "5"}}
        assert stored["anchor"] == "utc"

    def test_to_dict_shows_json_numbers(self, seeded: Ledger) -> None:
        """The customer's dict shows the controls with JSON numbers."""
        seeded.update_customer(
            "c1",
            billing_controls={"overage_allowed": [{"feature_id": "m", "enabled": True}]},
        )
        shown = seeded.get_customer("c1").to_dict()["billing_controls"]
        assert shown == {"overage_allowed": [{"feature_id": "m", "enabled": True}]}

    def test_response_only_keys_are_ignored(self, seeded: Ledger) -> None:
        """`usage` and `source`, which Autumn only shows in responses, may be sent back."""
        seeded.update_customer(
            "c1",
            billing_controls={
                "usage_limits": [
                    {
                        "feature_id": "m",
                        "limit": 3,
                        "interval": "week",
                        "usage": 2,
                        "source": "customer",
                    }
                ]
            },
        )
        assert "usage" not in controls(seeded)["usage_limits"][0]


class TestPatching:
    """A key given replaces its whole list; `[]` clears it; keys left out are kept."""

    def test_keys_are_patched_independently(self, seeded: Ledger) -> None:
        """Updating spend_limits leaves usage_limits alone, and `[]` reads back as `[]`."""
        first = {"feature_id": "m", "limit": 5, "interval": "day"}
        seeded.update_customer(
            "c1",
            billing_controls={
                "usage_limits": [first],
                "spend_limits": [{"feature_id": "m", "enabled": True, "overage_limit": 1}],
            },
        )
        seeded.update_customer("c1", billing_controls={"spend_limits": []})
        stored = controls(seeded)
        assert stored["spend_limits"] == []
        assert stored["usage_limits"] == [{**first, "enabled": True}]

    def test_other_fields_are_kept(self, seeded: Ledger) -> None:
        """name / email / metadata and billing_controls update independently."""
        seeded.update_customer("c1", name="Ada", metadata={"tier": "pro"})
        seeded.update_customer(
            "c1", billing_controls={"overage_allowed": [{"feature_id": "m", "enabled": True}]}
        )
        seeded.update_customer("c1", email="ada@example.com")
        customer = seeded.get_customer("c1")
        assert (customer.name, customer.email, customer.metadata) == (
            "Ada",
            "ada@example.com",
            {"tier": "pro"},
        )
        assert customer.billing_controls["overage_allowed"][0]["enabled"] is True

    def test_entity_controls_are_the_entitys_own(self, seeded: Ledger) -> None:
        """update_entity stores on the entity and leaves the customer untouched."""
        entity = seeded.update_entity(
            "c1",
            "e1",
            billing_controls={"usage_alerts": [{"threshold": 1, "threshold_type": "usage"}]},
        )
        assert entity.billing_controls["usage_alerts"][0]["threshold"] == 1
        assert controls(seeded, "e1") == entity.billing_controls
        assert controls(seeded) == {}

    def test_update_entity_without_controls_returns_it(self, seeded: Ledger) -> None:
        """billing_controls=None changes nothing."""
        assert seeded.update_entity("c1", "e1") == seeded.get_entity("c1", "e1")


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("not a dict", {"x": 1}, "unknown keys ['x']"),
    ("not a list", {"spend_limits": {"feature_id": "m"}}, "expected a list"),
    ("entry not an object", {"usage_limits": ["m"]}, "expected an object"),
    ("unknown entry key", {"usage_limits": [{"feature_id": "m", "limt": 5}]}, "unknown keys"),
    (
        "usage limit without interval",
        {"usage_limits": [{"feature_id": "m", "limit": 5}]},
        "usage_limits[0].interval: Required",
    ),
    (
        "one_off interval",
        {"usage_limits": [{"feature_id": "m", "limit": 5, "interval": "one_off"}]},
        "expected one of day, week, month, year",
    ),
    (
        "usage limit without limit",
        {"usage_limits": [{"feature_id": "m", "interval": "day"}]},
        "usage_limits[0].limit: Required",
    ),
    (
        "negative limit",
        {"usage_limits": [{"feature_id": "m", "limit": -1, "interval": "day"}]},
        "must be >= 0",
    ),
    (
        "duplicate usage limit",
        {
            "usage_limits": [
                {"feature_id": "m", "limit": 5, "interval": "day"},
                {"feature_id": "m", "limit": 9, "interval": "week"},
            ]
        },
        "Only one usage limit entry is allowed per feature_id and filter",
    ),
    (
        "duplicate spend limit",
        {"spend_limits": [{"feature_id": "m"}, {"feature_id": "m"}]},
        "Only one spend limit entry is allowed per feature_id",
    ),
    (
        "duplicate overage_allowed",
        {"overage_allowed": [{"feature_id": "m"}, {"feature_id": "m", "enabled": True}]},
        "Only one overage_allowed entry is allowed per feature_id",
    ),
    (
        "duplicate top-up",
        {
            "auto_topups": [
                {"feature_id": "m", "threshold": 1, "quantity": 1},
                {"feature_id": "m", "threshold": 2, "quantity": 1},
            ]
        },
        "Only one auto top-up entry is allowed per feature_id",
    ),
    (
        "overage_limit without feature",
        {"spend_limits": [{"enabled": True, "overage_limit": 5}]},
        "feature_id is required when overage_limit or skip_overage_billing is provided",
    ),
    (
        "remaining_percentage over 100",
        {"usage_alerts": [{"threshold": 101, "threshold_type": "remaining_percentage"}]},
        "Threshold must be between 0 and 100 for remaining_percentage",
    ),
    (
        "bad threshold type",
        {"usage_alerts": [{"threshold": 1, "threshold_type": "percent"}]},
        "threshold_type",
    ),
    (
        "five filter keys",
        {
            "usage_limits": [
                {
                    "feature_id": "m",
                    "limit": 1,
                    "interval": "day",
                    "filter": {"properties": dict.fromkeys("abcde", "v")},
                }
            ]
        },
        "filter.properties must have between 1 and 4 keys",
    ),
    (
        "filter value is a list",
        {
            "usage_limits": [
                {
                    "feature_id": "m",
                    "limit": 1,
                    "interval": "day",
                    "filter": {"properties": {"k": [1]}},
                }
            ]
        },
        "filter.properties.k",
    ),
    (
        "top-up quantity 0",
        {"auto_topups": [{"feature_id": "m", "threshold": 1, "quantity": 0}]},
        "quantity: must be >= 1",
    ),
    (
        "purchase limit per year",
        {
            "auto_topups": [
                {
                    "feature_id": "m",
                    "threshold": 1,
                    "quantity": 1,
                    "purchase_limit": {"interval": "year", "limit": 1},
                }
            ]
        },
        "expected one of hour, day, week, month",
    ),
    (
        "enabled is a string",
        {"overage_allowed": [{"feature_id": "m", "enabled": "yes"}]},
        "expected true or false",
    ),
    (
        "limit is not a number",
        {"usage_limits": [{"feature_id": "m", "limit": "lots", "interval": "day"}]},
        "expected a number",
    ),
]


class TestValidation:
    """A bad update raises InvalidRequest naming the value, and writes nothing."""

    @pytest.mark.parametrize(("update", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
    def test_rejected(self, seeded: Ledger, update: dict[str, Any], message: str) -> None:
        """Each malformed update is refused with a message naming what is wrong."""
        seeded.update_customer(
            "c1", billing_controls={"overage_allowed": [{"feature_id": "m", "enabled": True}]}
        )
        before = seeded.get_customer("c1")
        with pytest.raises(InvalidRequest) as info:
            seeded.update_customer("c1", name="changed", billing_controls=update)
        assert message in str(info.value)
        assert info.value.code == "invalid_inputs"
        assert seeded.get_customer("c1") == before

    def test_billing_controls_must_be_a_dict(self, seeded: Ledger) -> None:
        """A list is not a billing_controls object."""
        with pytest.raises(InvalidRequest, match="billing_controls: expected an object"):
            seeded.update_customer("c1", billing_controls=[])  # type: ignore[arg-type]

    def test_entities_have_no_auto_topups(self, seeded: Ledger) -> None:
        """Autumn has no entity top-ups: the key is refused on entities."""
        with pytest.raises(InvalidRequest, match="unknown keys \\['auto_topups'\\] for an entity"):
            seeded.update_entity(
                "c1",
                "e1",
                billing_controls={
                    "auto_topups": [{"feature_id": "m", "threshold": 1, "quantity": 1}]
                },
            )

    def test_entity_usage_limits_are_one_per_feature(self, seeded: Ledger) -> None:
        """An entity may not have two usage limits on a feature, even with other filters."""
        with pytest.raises(InvalidRequest, match="per feature_id \\("):
            seeded.update_entity(
                "c1",
                "e1",
                billing_controls={
                    "usage_limits": [
                        {"feature_id": "m", "limit": 1, "interval": "day"},
                        {
                            "feature_id": "m",
                            "limit": 1,
                            "interval": "day",
                            "filter": {"properties": {"k": "v"}},
                        },
                    ]
                },
            )

    def test_customer_usage_limits_differ_by_filter(self, seeded: Ledger) -> None:
        """A customer may cap the same feature once unfiltered and once per filter."""
        seeded.update_customer(
            "c1",
            billing_controls={
                "usage_limits": [
                    {"feature_id": "m", "limit": 1, "interval": "day"},
                    {
                        "feature_id": "m",
                        "limit": 1,
                        "interval": "day",
                        "filter": {"properties": {"k": "v"}},
                    },
                ]
            },
        )
        assert len(controls(seeded)["usage_limits"]) == 2

    def test_usage_alerts_may_repeat(self, seeded: Ledger) -> None:
        """Usage alerts have no uniqueness rule."""
        alert = {"feature_id": "m", "threshold": 5, "threshold_type": "usage"}
        seeded.update_customer("c1", billing_controls={"usage_alerts": [alert, alert]})
        assert len(controls(seeded)["usage_alerts"]) == 2

    def test_unknown_customer_and_entity(self, seeded: Ledger) -> None:
        """Unknown subjects raise their NotFound errors."""
        with pytest.raises(CustomerNotFound):
            seeded.update_customer("nobody", billing_controls={})
        with pytest.raises(EntityNotFound):
            seeded.update_entity("c1", "nobody", billing_controls={})
