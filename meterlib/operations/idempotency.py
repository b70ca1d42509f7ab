"""Idempotency keys: a claim holds for 24 h of clock time. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from meterlib.effects import Effects
from meterlib.errors import DuplicateIdempotencyKey

DAY_MS = 86_400_000


def claim(claims: Mapping[str, int | None], key: str, now: int) -> tuple[str, int]:
    """The claim of `key` (as stored: "<scope>:<key>") until now + 24 h;
    DuplicateIdempotencyKey while an earlier claim holds."""
    until = claims.get(key)
    if until is not None and until > now:
        raise DuplicateIdempotencyKey(key.split(":", 1)[1])
    return key, now + DAY_MS


def spending(effects: Effects, now: int) -> Effects:
    """`effects`, telling the store that claims made `now` end those claimed until `now`
    (so keys expire in the course of ordinary writes: a few per claim)."""
    return effects._replace(keys_spent_by=now) if effects.claims else effects
