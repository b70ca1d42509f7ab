"""Which pool a check judges, and how it sums a pool: at the subject's own level (an entity
sees its grants and the customer's), lots included, overage room net of what is used.
Every test runs over every store."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterlib import Ledger, ManualClock

D = Decimal


def pools(ledger: Ledger, *names: str) -> None:
    """requests, and credit systems `names` each costing 2 credits a request."""
    ledger.create_feature("requests")
    for name in names:
        ledger.create_feature(name, type="credit_system", credit_schema={"requests": 2})
    ledger.create_customer("c1")
    ledger.create_entity("c1", "e1")


def gpt_limit(ledger: Ledger) -> None:
    """c1 may use 1 request a day for model "gpt"."""
    limit = {"feature_id": "requests", "limit": 1, "interval": "day"}
    limit["filter"] = {"properties": {"model": "gpt"}}
    ledger.update_customer("c1", billing_controls={"usage_limits": [limit]})


def judged(ledger: Ledger, entity_id: str | None, required: int = 5) -> str | None:
    result = ledger.check("c1", "requests", entity_id=entity_id, required_balance=required)
    return None if result.balance is None else result.balance.feature_id


def test_entity_own_grant_is_judged_first(ledger: Ledger) -> None:
    """e1 holds 10 requests, c1 100 credits: e1's check of 5 judges its own requests."""
    pools(ledger, "credits")
    ledger.create("c1", "requests", included=10, entity_id="e1")
    ledger.create("c1", "credits", included=100)
    assert judged(ledger, "e1") == "requests"


def test_pool_held_by_the_entity_only(ledger: Ledger) -> None:
    """Of two credit systems, e1 holds only the second: its check judges that one."""
    pools(ledger, "alpha", "beta")
    ledger.create("c1", "beta", included=100, entity_id="e1")
    assert judged(ledger, "e1") == "beta"


def test_entity_grants_do_not_make_the_customer_own_it(ledger: Ledger) -> None:
    """At customer level a feature only e1 holds is not the customer's own: with no pool held
    either, the check judges the credit system and shows no balance."""
    pools(ledger, "credits")
    ledger.create("c1", "requests", included=10, entity_id="e1")
    result = ledger.check("c1", "requests", required_balance=5)
    assert result.balance is None
    assert not result.allowed


def test_lots_count(ledger: Ledger, clock: ManualClock) -> None:
    """A full grant of 100 beside a lot of 30: 130 may be used, not 131."""
    clock.set(datetime(2025, 3, 10, 12, tzinfo=UTC))
    ledger.create("c1", "messages", included=100, reset="month", rollover={"length": 1})
    ledger.track("c1", "messages", value=70)
    clock.set(datetime(2025, 4, 10, 12, tzinfo=UTC))
    assert ledger.check("c1", "messages", required_balance=130).allowed
    assert not ledger.check("c1", "messages", required_balance=131).allowed


def test_fractional_balance_beside_overage_room(ledger: Ledger) -> None:
    """0.5 left of 10 and overage up to 5 more: 5.5 may be used, not 6."""
    ledger.create("c1", "messages", included=10, overage_allowed=True, max_purchase=5)
    ledger.track("c1", "messages", value="9.5")
    assert ledger.check("c1", "messages", required_balance="5.5").allowed
    assert not ledger.check("c1", "messages", required_balance=6).allowed


def test_customer_level_ignores_pools_only_entities_hold(ledger: Ledger) -> None:
    """Only e1 holds beta: a customer-level check falls back to the first pool, alpha."""
    pools(ledger, "alpha", "beta")
    ledger.create("c1", "beta", included=100, entity_id="e1")
    result = ledger.check("c1", "requests", required_balance=5)
    assert (result.allowed, result.balance) == (False, None)


def test_first_held_pool_when_none_suffices(ledger: Ledger) -> None:
    """c1 holds 1 beta credit only: denied, and judged on beta (the pool it holds)."""
    pools(ledger, "alpha", "beta")
    ledger.create("c1", "beta", included=1)
    result = ledger.check("c1", "requests", required_balance=5)
    assert result.balance is not None
    assert (result.allowed, result.balance.feature_id) == (False, "beta")


def test_entity_held_pool_that_suffices(ledger: Ledger) -> None:
    """c1 holds 1 alpha credit, e1 100 beta: e1's check is allowed on beta."""
    pools(ledger, "alpha", "beta")
    ledger.create("c1", "alpha", included=1)
    ledger.create("c1", "beta", included=100, entity_id="e1")
    assert ledger.check("c1", "requests", entity_id="e1", required_balance=5).allowed
    assert judged(ledger, "e1") == "beta"


def test_own_feature_when_no_pool_is_held(ledger: Ledger) -> None:
    """1 request of its own and no credits held: denied, judged on requests."""
    pools(ledger, "credits")
    ledger.create("c1", "requests", included=1)
    result = ledger.check("c1", "requests", required_balance=5)
    assert result.balance is not None
    assert (result.allowed, result.balance.feature_id) == (False, "requests")


@pytest.mark.parametrize(
    ("systems", "held", "for_gpt", "otherwise"),
    [
        (("credits",), {"requests": 10, "credits": 100}, "credits", "requests"),
        (("alpha", "beta"), {"alpha": 1, "beta": 100}, "alpha", "beta"),
    ],
    ids=["own-feature", "pools"],
)
def test_properties_reach_every_judgement(
    ledger: Ledger, systems: tuple[str, ...], held: dict[str, int], for_gpt: str, otherwise: str
) -> None:
    """A limit of 1 request a day for model "gpt" and a check of 5 for "gpt": the own 10
    requests cannot be judged, it falls to the credit pool; with 1 alpha credit and 100 beta,
    no pool is allowed (beta is gated by the member's limit), so the first held, alpha, is
    judged. Without the model, the own feature and beta are judged."""
    pools(ledger, *systems)
    for feature_id, included in held.items():
        ledger.create("c1", feature_id, included=included)
    gpt_limit(ledger)
    gpt = ledger.check("c1", "requests", required_balance=5, properties={"model": "gpt"})
    assert gpt.balance is not None
    assert (gpt.allowed, gpt.balance.feature_id) == (False, for_gpt)
    assert judged(ledger, None) == otherwise
