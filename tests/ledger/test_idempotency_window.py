"""The idempotency window's edge: a key is held for exactly 24 h of clock time.

A repeat 1 ms before the 24 h is a duplicate; at exactly 24 h and after, the key is free
again, and claiming it again holds it for another 24 h. Every test runs over every store.
"""

from __future__ import annotations

import pytest

from meterlib import DuplicateIdempotencyKey, Ledger, ManualClock

WINDOW = 86_400_000  # 24 h in ms


@pytest.fixture
def claimed(ledger: Ledger) -> Ledger:
    ledger.create("c1", "messages", included=100)
    ledger.track("c1", "messages", idempotency_key="k1")
    return ledger


def usage(ledger: Ledger) -> int:
    b = ledger.balance("c1", "messages")
    assert b is not None
    return int(b.usage)


@pytest.mark.parametrize("offset", [-1, 1 - WINDOW], ids=["1ms-before-24h", "1ms-after-claim"])
def test_duplicate_inside(claimed: Ledger, clock: ManualClock, offset: int) -> None:
    """Inside the window the repeat raises and counts nothing."""
    clock.advance(milliseconds=WINDOW + offset)
    with pytest.raises(DuplicateIdempotencyKey):
        claimed.track("c1", "messages", idempotency_key="k1")
    assert usage(claimed) == 1


@pytest.mark.parametrize("offset", [0, 1], ids=["exactly-24h", "1ms-after-24h"])
def test_free_from_24h(claimed: Ledger, clock: ManualClock, offset: int) -> None:
    """From exactly 24 h on the key is accepted and counted."""
    clock.advance(milliseconds=WINDOW + offset)
    claimed.track("c1", "messages", idempotency_key="k1")
    assert usage(claimed) == 2


def test_reclaim_holds_another_24h(claimed: Ledger, clock: ManualClock) -> None:
    """A key accepted again at 24 h is held until 48 h, not until the first claim's end."""
    clock.advance(milliseconds=WINDOW)
    claimed.track("c1", "messages", idempotency_key="k1")
    clock.advance(milliseconds=WINDOW - 1)
    with pytest.raises(DuplicateIdempotencyKey):
        claimed.track("c1", "messages", idempotency_key="k1")
    clock.advance(milliseconds=1)
    claimed.track("c1", "messages", idempotency_key="k1")
    assert usage(claimed) == 3


@pytest.mark.parametrize(("offset", "held"), [(-1, True), (0, False)])
def test_request_scope_edge(ledger: Ledger, clock: ManualClock, offset: int, held: bool) -> None:
    """The bridge's request keys (claim_idempotency_key) share the same edge."""
    ledger.claim_idempotency_key("r1")
    clock.advance(milliseconds=WINDOW + offset)
    if held:
        with pytest.raises(DuplicateIdempotencyKey):
            ledger.claim_idempotency_key("r1")
    else:
        ledger.claim_idempotency_key("r1")
