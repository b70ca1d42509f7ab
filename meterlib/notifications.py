"""Notifications: what Autumn sends as webhooks, delivered in-process after a commit.

`ledger.subscribe(callback, events=None)` registers a callback and returns a function that
unregisters it. An operation collects its notifications while its transaction runs and the
Ledger delivers them once the transaction has committed (never for one that rolled back),
in the order they arose, each to every subscriber of its type. A callback that raises is
logged on the "meterlib.notifications" logger; the ledger, the caller and the other
subscribers never see the error.

Types and Autumn's webhooks:

| `notification.type`                | Autumn's webhook                                         |
|------------------------------------|----------------------------------------------------------|
| `balances.limit_reached`           | `balances.limit_reached` (same data)                     |
| `balances.usage_alert_triggered`   | `balances.usage_alert_triggered` (same data)             |
| `balances.auto_topup`              | `billing.auto_topup_succeeded` when `data["status"]` is  |
|                                    | "succeeded", `billing.auto_topup_failed` when "failed"   |

`notification.data` is Autumn's `data` object with `entity_id` always present (None when
the operation named no entity), amounts as Decimals; a usage alert also repeats its `name`,
`threshold` and `threshold_type` at the top level, and a top-up carries `status`.
`to_autumn()` gives Autumn's exact webhook body (optional fields omitted, JSON numbers).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from attrs import frozen

from meterlib import shapes
from meterlib.errors import InvalidRequest
from meterlib.validation import shown

# the type names are Autumn's webhook vocabulary: the wire shapes own them
LIMIT_REACHED = shapes.LIMIT_REACHED
USAGE_ALERT = shapes.USAGE_ALERT
AUTO_TOPUP = shapes.AUTO_TOPUP
EVENT_TYPES = (LIMIT_REACHED, USAGE_ALERT, AUTO_TOPUP)

logger = logging.getLogger("meterlib.notifications")


@frozen(kw_only=True)
class Notification:
    """Something a subscriber is told after a commit: a limit reached, an alert, a top-up."""

    type: str
    data: dict[str, Any]
    occurred_at: datetime

    @property
    def autumn_type(self) -> str:
        """The webhook type Autumn sends for this notification."""
        return shapes.webhook_type(self)

    def to_dict(self) -> dict[str, Any]:
        """`{"type", "occurred_at" (epoch ms), "data"}`, numbers as JSON numbers."""
        return shapes.notification(self)

    def to_autumn(self) -> dict[str, Any]:
        """Autumn's webhook body: its type, and its data without meterlib's extra keys."""
        return shapes.webhook(self)


Callback = Callable[[Notification], object]


def event_types(events: object) -> frozenset[str] | None:
    """`subscribe(events=...)`: None for every type, else an iterable of known type names."""
    if events is None:
        return None
    if isinstance(events, str) or not isinstance(events, Iterable):
        raise InvalidRequest(
            f"events: expected a list of notification types, e.g. [{LIMIT_REACHED!r}] "
            f"(received {shown(events)})",
            field="events",
        )
    given = list(events)
    unknown = sorted(
        e if isinstance(e, str) else shown(e)
        for e in given
        if not isinstance(e, str) or e not in EVENT_TYPES
    )
    if unknown:
        raise InvalidRequest(
            f"events: unknown notification types {unknown}; expected some of "
            f"{', '.join(EVENT_TYPES)}",
            field="events",
        )
    return frozenset(given)


class Notifier:
    """The subscribers of one Ledger, and delivery to them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[tuple[object, Callback, frozenset[str] | None], ...] = ()
        self._wanted: frozenset[str] = frozenset()

    def subscribe(self, callback: Callback, *, events: object = None) -> Callable[[], None]:
        """Register `callback` for `events` (None: every type); returns the unsubscriber."""
        if not callable(callback):
            raise InvalidRequest(
                f"callback: expected a callable taking a Notification (received {shown(callback)})",
                field="callback",
            )
        kinds = event_types(events)
        token = object()
        with self._lock:
            self._set((*self._subscribers, (token, callback, kinds)))

        def unsubscribe() -> None:
            """Stop delivering to this callback (calling it again does nothing)."""
            with self._lock:
                self._set(tuple(s for s in self._subscribers if s[0] is not token))

        return unsubscribe

    def _set(self, subscribers: tuple[tuple[object, Callback, frozenset[str] | None], ...]) -> None:
        wanted: set[str] = set()
        for _, _, kinds in subscribers:
            wanted.update(EVENT_TYPES if kinds is None else kinds)
        self._subscribers, self._wanted = subscribers, frozenset(wanted)

    def wanted(self) -> frozenset[str]:
        """The notification types somebody listens to now (nothing is worked out for others)."""
        return self._wanted

    def deliver(self, notifications: Sequence[Notification]) -> None:
        """Call every subscriber of each notification's type; log what a callback raises."""
        if not notifications:
            return
        subscribers = self._subscribers
        for notification in notifications:
            for _, callback, kinds in subscribers:
                if kinds is not None and notification.type not in kinds:
                    continue
                try:
                    callback(notification)
                except Exception:
                    logger.exception(
                        "meterlib: notification callback %r raised on %s; the ledger "
                        "operation is unaffected",
                        callback,
                        notification.type,
                    )


class Outbox:
    """`with Outbox(notifier) as outbox:` collects one call's notifications and delivers them
    when the block ends without an exception. Enter it before the store transaction, so that
    transaction has committed by then. (A class: it is entered on every call.)"""

    __slots__ = ("_notifier", "notifications")

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier
        self.notifications: list[Notification] = []

    def __enter__(self) -> list[Notification]:
        return self.notifications

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self.notifications:
            self._notifier.deliver(self.notifications)
