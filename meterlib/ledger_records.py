"""The Ledger's calls over what it recorded: the event list and usage reports (API.md
"Check and track" events, "Usage reports"). A part of `Ledger`, never used alone: each
method parses its arguments, then makes one call into the shell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from meterlib import shell_setup as shell
from meterlib import shell_usage
from meterlib.arguments import reports, usage
from meterlib.results import EventPage
from meterlib.usage_results import UsageReport


class RecordCalls(shell.Holds):
    """The recorded events and what they add up to."""

    def events(
        self,
        customer_id: str | None = None,
        *,
        feature_id: str | None = None,
        entity_id: str | None = None,
        start: object = None,
        end: object = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> EventPage:
        """Recorded events, newest first, a page at a time (`start` inclusive, `end` exclusive)."""
        query = usage.event_query(customer_id, feature_id, entity_id, start, end, limit, cursor)
        return shell.events(self, query)

    def usage(
        self,
        feature_id: str | Sequence[str],
        *,
        customer_id: str | None = None,
        entity_id: str | None = None,
        start: object = None,
        end: object = None,
        bin_size: str = "day",
        timezone: str = "UTC",
        group_by: str | None = None,
        filter_by: Mapping[str, str] | None = None,
        max_groups: int = 9,
        measure: str = "sum",
    ) -> UsageReport:
        """Recorded usage of one feature (or several) in bins from `start` to `end` (default:
        the 30 days up to now): "hour" (UTC hours), "day", "week" (from Monday) or "month"
        bins starting at `timezone`'s midnights, every bin present; events in `[start, end)`
        counted in the bin holding them. `group_by` ("properties.<key>", "$customer_id",
        "$entity_id") keeps the `max_groups` largest groups of each bin, the rest as "Other";
        `filter_by` keeps events whose properties match; `measure` "sum" or "count"."""
        args = reports.usage_args(shell.now(self), **shell.given(locals()))
        return shell_usage.native(self, args)
