"""What a decision reads besides the customer's state and its arguments, and how it asks.

`Context` is built by the shell per call (the instant, the Ledger's settings, who listens for
notifications) and grows with the answers to `Asked`: a decision that needs more sequence
numbers or an application's approval raises `Asked`; the shell answers and decides again from
the same frozen state, so nothing the first attempt worked out leaks into the second.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from meterlib.effects import Asks, TopupRequest

NO_SEQS: Mapping[str, tuple[int, ...]] = {}


class Context(NamedTuple):
    """Everything a decision may read besides the state and its arguments."""

    now: int
    reverse: bool = False  # Ledger(reverse_deduction_order=...)
    persist_overage: bool = False  # Ledger(persist_overage_on_reset=...)
    listening: frozenset[str] = frozenset()  # notification types somebody subscribes to
    seqs: Mapping[str, tuple[int, ...]] = NO_SEQS  # answers to Asks.seqs, ascending
    # answers to Asks.approvals: None approved, else Autumn's failure reason; the mapping
    # itself is None when the Ledger has no approve_topup (every top-up is approved)
    approvals: Mapping[TopupRequest, str | None] | None = None


class Asked(Exception):
    """A decision needs `asks` answered before it can finish."""

    def __init__(self, asks: Asks) -> None:
        super().__init__(asks)
        self.asks = asks
