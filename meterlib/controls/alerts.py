"""What an operation's deductions set off: usage-alert crossings, a limit reached, an auto
top-up and its rate limits. Pure: snapshots, controls, counters and an instant in, decisions out.

Crossings are stateless, as in Autumn: an alert compares the balance before an operation with
the balance after it and fires when the threshold was crossed in the consuming direction.
Nothing remembers that it fired; it stays quiet while the balance stays beyond the threshold
and fires again after something (a reset, a refund, a grant) brought it back. The same holds
for `balances.limit_reached`: it fires when the subject could use something before the
operation and can use nothing after it.

Auto top-ups keep Autumn's trigger (balance at or below the threshold, inclusive), its
paydown of overage, and its rate limits, which live in counters: a fixed window opens at the
first attempt after the previous one ended (not calendar-aligned).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal

from attrs import evolve, frozen

from meterlib import intervals
from meterlib.controls import AutoTopup, UsageAlert
from meterlib.models import Counter, Grant
from meterlib.quantity import ZERO
from meterlib.results import Balance

HUNDRED = Decimal(100)
# Autumn judges "is anything left" by whether this tiny amount would be allowed
ANY_AMOUNT = Decimal("0.0000001")


def crossed(alert: UsageAlert, old: Balance, new: Balance) -> bool:
    """Whether an operation that took the balance from `old` to `new` crosses the alert."""
    if old.unlimited or new.unlimited:
        return False
    t = alert.threshold
    kind = alert.threshold_type
    if kind == "usage":
        return old.usage < t <= new.usage
    if kind == "remaining":
        return old.remaining > t >= new.remaining
    if old.granted <= 0 or new.granted <= 0:
        return False
    if kind == "usage_percentage":
        return old.usage * HUNDRED / old.granted < t <= new.usage * HUNDRED / new.granted
    return old.remaining * HUNDRED / old.granted > t >= new.remaining * HUNDRED / new.granted


# --- auto top-ups -------------------------------------------------------------------------


@frozen(kw_only=True)
class TopupLimits:
    """Autumn's fixed rate limits on automatic top-ups, per customer and feature."""

    attempts: int = 2  # attempts ...
    attempt_minutes: int = 10  # ... per this many minutes
    failures: int = 1  # failed attempts ...
    failure_hours: int = 1  # ... per this many hours
    suspend_after: int = 3  # consecutive failures suspend top-ups until the config is rewritten


LIMITS = TopupLimits()


def topup_balance(grants: Sequence[Grant]) -> Decimal:
    """Autumn's trigger balance: the signed balances (overage negative) plus rollovers."""
    return sum((g.balance for g in grants), ZERO) + sum(
        (lot.balance for g in grants for lot in g.rollovers), ZERO
    )


def topup_key(kind: str, feature_id: str) -> str:
    """The counter key of one top-up rate-limit count of a feature."""
    return "auto_topup:" + json.dumps([kind, feature_id], ensure_ascii=False)


def _live(counter: Counter | None, now: int) -> Decimal:
    """A windowed count while its window lasts (a count without a window never expires)."""
    if counter is None:
        return ZERO
    if counter.window_end is not None and now >= counter.window_end:
        return ZERO
    return counter.value


def _bump(
    counter: Counter | None,
    *,
    customer_id: str,
    key: str,
    now: int,
    interval: str | None,
    count: int = 1,
    by: Decimal = Decimal(1),
) -> Counter:
    """The count plus `by`; an ended window restarts at `now` (Autumn's fixed windows)."""
    if interval is None:
        value = (counter.value if counter is not None else ZERO) + by
        return Counter(customer_id=customer_id, key=key, value=value)
    if counter is None or counter.window_end is None or now >= counter.window_end:
        return Counter(
            customer_id=customer_id,
            key=key,
            value=by,
            window_start=now,
            window_end=intervals.add(now, interval, count),
        )
    return evolve(counter, value=counter.value + by)


@frozen(kw_only=True)
class Block:
    """Why a top-up may not run now, and until when that holds (None: until reconfigured)."""

    reason: str
    until: int | None


def blocked(
    config: AutoTopup,
    counters: Mapping[str, Counter],
    now: int,
    limits: TopupLimits = LIMITS,
) -> Block | None:
    """Autumn's preflight, in its order: suspension, purchase limit, attempts, failures."""
    fid = config.feature_id
    if _live(counters.get(topup_key("consecutive_failures", fid)), now) >= limits.suspend_after:
        return Block(reason="suspended_after_failures", until=None)
    checks: list[tuple[str, str, int]] = []
    if config.purchase_limit is not None:
        checks.append(("purchases", "purchase_limit_reached", config.purchase_limit.limit))
    checks.append(("attempts", "attempt_limit_reached", limits.attempts))
    checks.append(("failures", "failed_attempt_limit_reached", limits.failures))
    for kind, reason, most in checks:
        counter = counters.get(topup_key(kind, fid))
        if _live(counter, now) >= most:
            return Block(reason=reason, until=None if counter is None else counter.window_end)
    return None


def record_attempt(
    config: AutoTopup,
    counters: Mapping[str, Counter],
    now: int,
    *,
    customer_id: str,
    success: bool,
    limits: TopupLimits = LIMITS,
) -> list[Counter]:
    """The counters after one attempt: attempts always; purchases or failures by outcome."""
    fid = config.feature_id

    def bump(kind: str, interval: str | None, count: int = 1) -> Counter:
        key = topup_key(kind, fid)
        return _bump(
            counters.get(key),
            customer_id=customer_id,
            key=key,
            now=now,
            interval=interval,
            count=count,
        )

    out = [bump("attempts", "minute", limits.attempt_minutes)]
    streak_key = topup_key("consecutive_failures", fid)
    if success:
        out.append(Counter(customer_id=customer_id, key=streak_key, value=ZERO))
        limit = config.purchase_limit
        if limit is not None:
            out.append(bump("purchases", limit.interval, limit.interval_count))
    else:
        out.append(bump("failures", "hour", limits.failure_hours))
        out.append(bump("consecutive_failures", None))
    return out


def purchase_count(
    config: AutoTopup,
    counters: Mapping[str, Counter],
    now: int,
    count: int,
    *,
    customer_id: str,
) -> Counter | None:
    """`purchase_limit.count` written by an update: the current window's purchases (None
    without a purchase limit)."""
    limit = config.purchase_limit
    if limit is None:
        return None
    key = topup_key("purchases", config.feature_id)
    current = _bump(
        counters.get(key),
        customer_id=customer_id,
        key=key,
        now=now,
        interval=limit.interval,
        count=limit.interval_count,
        by=ZERO,
    )
    return evolve(current, value=Decimal(count))


def notice_due(block: Block, counters: Mapping[str, Counter], feature_id: str, now: int) -> bool:
    """A blocked top-up is reported once per blocking window (suspension: once a day)."""
    seen = counters.get(topup_key(f"notified:{block.reason}", feature_id))
    return seen is None or seen.window_end is None or now >= seen.window_end


def notice_record(block: Block, feature_id: str, now: int, *, customer_id: str) -> Counter:
    """Remember that `block` was reported, until its window ends (at least a minute)."""
    until = block.until if block.until is not None else intervals.add(now, "day", 1)
    return Counter(
        customer_id=customer_id,
        key=topup_key(f"notified:{block.reason}", feature_id),
        value=Decimal(1),
        window_start=now,
        window_end=max(until, now + 60_000),
    )


def paydown(grants: Sequence[Grant], quantity: Decimal) -> tuple[dict[str, Grant], Decimal]:
    """Autumn's rebalance: `quantity` first pays off overage, the rest is new balance.

    Candidates are the customer's own (not entity) limited grants in overage: pay-per-use
    grants first, then the oldest; each is raised to 0 at most. Returns the changed grants
    and what is left for the top-up grant's balance.
    """
    debtors = sorted(
        (g for g in grants if g.balance < 0 and g.entity_id is None and not g.unlimited),
        key=lambda g: (not g.overage_allowed, g.created_at, g.seq),
    )
    left = quantity
    changed: dict[str, Grant] = {}
    for grant in debtors:
        if left <= 0:
            break
        pay = min(left, -grant.balance)
        changed[grant.id] = evolve(grant, balance=grant.balance + pay)
        left -= pay
    return changed, left
