"""Plain checks answered again, while nothing they were worked out from can have changed.

A plain check (no `send_event`, no `lock`) of a customer or entity that no billing control
bears on and whose customer holds no lock is a pure function of the customer's stored state
(its entities' included), the catalogue and `now`: its `properties` matter only to controls. A
store that can say cheaply whether that state changed (`revision(customer_id)`, a number that
grows with every change, as MemoryStore's does) lets the Ledger keep each answer with the
revision it was worked out from and the instant time alone would first change it
(`View.settled_until`: a reset, an expiry). Asked again before then, with the revision
unchanged and the clock not set back, the answer is the same, so it is returned as it was.

This matters where a check is not followed by a track: a customer out of balance retrying,
a boolean feature gating every request, a page showing a balance. A check right after a write
to the same customer works its answer out again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from meterlib.results import CheckResult

# customer_id, feature_id, entity_id, required_balance as text (1 and 1.0 are answered 1 and
# 1.0), with_preview
CheckKey = tuple[str, str, str | None, str, bool]
_Kept = tuple[Hashable, int, "int | None", CheckResult]  # revision, since, until, answer

LIMIT = 4096  # answers kept: past this, all are forgotten (cheaper than tracking their age)


class RecentChecks:
    """One Ledger's recent plain-check answers, over a store that has revisions."""

    __slots__ = ("_kept", "_revision")

    def __init__(self, revision: Callable[[str], Hashable]) -> None:
        self._revision = revision
        self._kept: dict[CheckKey, _Kept] = {}

    def recall(self, key: CheckKey, now: int) -> CheckResult | None:
        """The answer kept for `key`, if it still holds at `now`."""
        kept = self._kept.get(key)
        if kept is None:
            return None
        revision, since, until, answer = kept
        # a clock set back may stand before a reset the answer already counted
        if since <= now and (until is None or now < until) and revision == self._revision(key[0]):
            return answer
        return None

    def keep(
        self,
        key: CheckKey,
        answer: CheckResult,
        *,
        now: int,
        until: int | None,
        revision: Hashable | None = None,
    ) -> None:
        """Keep `answer`, worked out at `now` and holding until `until` from the state read
        at `revision` (read with that state, under the store's lock; None: read it now,
        which holds only inside the transaction the answer was worked out in)."""
        kept = self._kept
        if len(kept) >= LIMIT:
            kept.clear()
        if revision is None:
            revision = self._revision(key[0])
        kept[key] = (revision, now, until, answer)
