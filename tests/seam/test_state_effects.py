"""The seam's values: what a load returns after an apply, and merged effects."""

from __future__ import annotations

from decimal import Decimal

from meterlib.effects import NO_EFFECTS, Effects
from meterlib.models import Counter
from meterlib.state import Catalogue, CustomerState
from meterlib.testing import customer, entity, feature, grant, lock

T = 1_767_225_600_000


def state(**kw: object) -> CustomerState:
    parts: dict[str, object] = {
        "customer_id": "cus_1",
        "customer": customer(billing_controls={"spend_limits": []}),  # counters loaded
        "entities": {"seat_1": entity()},
        "grants": (grant("g1", 1), grant("g2", 2)),
        "locks": (lock("lk_1", created_at=T),),
        "counters": {"a": Counter(customer_id="cus_1", key="a", value=Decimal(1))},
        "named_locks": {"lk_1": lock("lk_1", created_at=T), "lk_x": None},
        "claims": {"track:k": None},
        "seqs": {"event": (7,)},
        "catalogue": Catalogue([feature()]),
    }
    parts.update(kw)
    return CustomerState(**parts)  # type: ignore[arg-type]


def test_after_nothing_is_the_same_state() -> None:
    before = state()
    assert before.after(NO_EFFECTS) == before
    assert not NO_EFFECTS


def test_after_replaces_adds_and_deletes_by_id_in_store_order() -> None:
    changed = grant("g2", 2, balance=Decimal("-1.5"))
    added = grant("g0", 0)
    other = grant("g9", 9, customer_id="cus_2")  # another customer's grant: not in this state
    after = state().after(
        Effects(grants=(changed, added, other), deleted_grants=("g1",), claims=(("track:k", T),))
    )
    assert after.grants == (added, changed)
    assert after.claims == {"track:k": T}


def test_after_locks_counters_entities_and_features() -> None:
    newer = lock("lk_2", created_at=T + 1)
    counter = Counter(customer_id="cus_1", key="0", value=Decimal(2))
    renamed = entity(name="Seat one")
    unwanted = entity("seat_9")  # not loaded by this Want: a load would not return it
    after = state().after(
        Effects(
            locks=(newer,),
            deleted_locks=("lk_1",),
            counters=(counter,),
            entities=(renamed, unwanted),
            features=(feature("credits"),),
        )
    )
    assert after.locks == (newer,)
    assert after.named_locks == {"lk_1": None, "lk_x": None}
    assert list(after.counters) == ["0", "a"]
    assert after.entities == {"seat_1": renamed}
    assert [f.id for f in after.catalogue.ordered] == ["api_calls", "credits"]


def test_effects_merge_later_versions_win_and_deletes_drop_earlier_writes() -> None:
    first = Effects(grants=(grant("g1", 1), grant("g2", 2)), claims=(("k", 1),))
    later = Effects(
        grants=(grant("g1", 1, balance=Decimal(3)),), deleted_grants=("g2",), claims=(("k", 2),)
    )
    merged = first | later
    assert merged.grants == (grant("g1", 1, balance=Decimal(3)),)
    assert merged.deleted_grants == ("g2",)
    assert merged.claims == (("k", 2),)
    assert merged
