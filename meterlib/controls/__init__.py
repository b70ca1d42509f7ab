"""Billing controls: validated, stored, and resolved for one subject. Pure.

A customer or an entity carries Autumn's `billing_controls`:

```
{"spend_limits": [...], "usage_limits": [...], "usage_alerts": [...],
 "overage_allowed": [...], "auto_topups": [...]}      # auto_topups: customers only
```

`validate()` checks an update at the API edge and returns the entries as they are stored:
Autumn's shape with its defaults written out (`enabled`, `purchase_limit.interval_count`),
amounts as Decimals and filter values as the strings Autumn compares. `merge()` applies an
update per top-level key: a key present replaces its whole list, `[]` clears it, an absent key
is kept. `Controls.from_stored()` reads the stored form into frozen values, and `Resolved`
answers, per feature, which entry a subject obeys: the entity's own entry, else the
customer's (meterlib has no plans, so Autumn's third tier never applies).

`judge()` is check's verdict with the controls applied (autumn-check-track §5.5 and Autumn's
`apiBalanceToAllowed`), also used to tell when a limit is reached and why.

Where meterlib deliberately differs from Autumn (which resolves controls from plans too and
charges top-ups through Stripe in a queued job):

* No plan tier: the nearest entry wins, the entity's then the customer's.
* One spend-limit rule for check and track: the nearest entry naming the feature wins, even
  without `overage_limit` (Autumn's check and track paths disagree on that one case).
* `usage_percentage` spend limits are a percentage of the included amounts of the subject's
  recurring grants (Autumn: of its main recurring plans). Standalone grants contribute 0 in
  Autumn, which would make such a limit a no-op; one-off grants (and so top-ups), rollovers
  and manual adjustments are left out, as Autumn leaves out one-off plans, prepaid packs,
  rollovers and adjustments. With no recurring allowance there is no cap, as in Autumn.
* Auto top-ups run inside the deducting operation (track, check with send_event or a lock,
  finalize) as a one-off grant of `quantity`, after paying down overage as Autumn does; the
  application approves (and charges) through `Ledger(approve_topup=...)`. A refusal counts
  as a failed attempt. A plain `check` never writes, so unlike Autumn it never tops up.
  Autumn's rate limits hold (2 attempts per 10 minutes, 1 failure per hour, suspension after
  3 failures in a row, the optional `purchase_limit`); writing `auto_topups` again lifts a
  suspension (Autumn waits for a new payment method).
* Autumn sends `billing.auto_topup_succeeded` / `billing.auto_topup_failed`; meterlib
  delivers both as `balances.auto_topup` with `data["status"]` (see `notifications`).

This module is the entry point (`from meterlib import controls`; `controls.validate`,
`controls.Controls`, ...); the code lives, one concept per module, in:

* `controls_values` - the frozen values (`Controls` and its entries) and `Controls.from_stored`;
* `controls_filters` - usage-limit filters: JavaScript's string form and `filter_matches`;
* `controls_updates` - `validate()` and `merge()` of a `billing_controls` update;
* `controls_resolved` - `Resolved`, which entry a subject obeys, entity before customer;
* `controls_verdict` - `judge()` and `spend_cap()`, check's verdict with the controls applied.
"""

from meterlib.controls.filters import filter_matches, js_string
from meterlib.controls.resolved import Resolved
from meterlib.controls.updates import (
    ANCHORS,
    CUSTOMER_KEYS,
    ENTITY_KEYS,
    LIMIT_TYPES,
    PURCHASE_INTERVALS,
    THRESHOLD_TYPES,
    WINDOW_INTERVALS,
    Update,
    merge,
    validate,
)
from meterlib.controls.values import (
    EMPTY,
    AutoTopup,
    Controls,
    OverageAllowed,
    PurchaseLimit,
    SpendLimit,
    UsageAlert,
    UsageLimit,
)
from meterlib.controls.verdict import ALLOWED, Verdict, judge, spend_cap

__all__ = [
    "ALLOWED",
    "ANCHORS",
    "CUSTOMER_KEYS",
    "EMPTY",
    "ENTITY_KEYS",
    "LIMIT_TYPES",
    "PURCHASE_INTERVALS",
    "THRESHOLD_TYPES",
    "WINDOW_INTERVALS",
    "AutoTopup",
    "Controls",
    "OverageAllowed",
    "PurchaseLimit",
    "Resolved",
    "SpendLimit",
    "Update",
    "UsageAlert",
    "UsageLimit",
    "Verdict",
    "filter_matches",
    "js_string",
    "judge",
    "merge",
    "spend_cap",
    "validate",
]
