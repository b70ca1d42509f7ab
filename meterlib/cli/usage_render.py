"""Usage reports for people: a table with a bar per bin (Unicode blocks) and the total, CSV
for spreadsheets. Pure text from a UsageReport."""

from __future__ import annotations

import csv
import io
from datetime import tzinfo
from decimal import Decimal

from meterlib.cli.render import _table, number
from meterlib.quantity import ZERO
from meterlib.usage_results import UsagePeriod, UsageReport

BAR_WIDTH = 30  # characters of the longest bar
_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: Decimal, largest: Decimal, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of `value` against `largest`, in eighths of a character (nothing for
    zero or less)."""
    if value <= 0 or largest <= 0:
        return ""
    eighths = int(value / largest * width * 8)
    full, part = divmod(max(eighths, 1), 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def label(period: UsagePeriod, bin_size: str, zone: tzinfo) -> str:
    """A bin's start as the reader's calendar shows it (hour bins with the time)."""
    local = period.start.astimezone(zone)
    if bin_size == "hour":
        return local.strftime("%Y-%m-%d %H:%M")
    if bin_size == "month":
        return local.strftime("%Y-%m")
    return local.strftime("%Y-%m-%d")


def groups_of(report: UsageReport, feature_id: str) -> list[str]:
    """The group names the report lists for a feature, in its order."""
    for period in report.periods:
        if period.grouped is not None:
            return list(period.grouped.get(feature_id, {}))
    return []


def usage_table(report: UsageReport, feature_id: str, *, bin_size: str, zone: tzinfo) -> str:
    """One row per bin: its start, each group's value when grouped, the bin's value and its
    bar; then the total (all events of the window, grouped or not)."""
    groups = groups_of(report, feature_id)
    largest = max((p.values[feature_id] for p in report.periods), default=ZERO)
    rows = []
    for period in report.periods:
        value = period.values[feature_id]
        cells = [number((period.grouped or {}).get(feature_id, {}).get(g, ZERO)) for g in groups]
        rows.append([label(period, bin_size, zone), *cells, number(value), bar(value, largest)])
    total = report.total[feature_id]
    rows.append(["total", *([""] * len(groups)), number(total.sum), f"{total.count} events"])
    headers = [bin_size, *groups, feature_id, ""]
    colalign = ("left", *(["right"] * (len(groups) + 1)), "left")
    return _table(rows, headers=headers, colalign=colalign)


def usage_csv(report: UsageReport) -> str:
    """`period_start,period_end,feature_id,group,value`: one line per bin, feature and group
    (the group empty when not grouped); ISO 8601 UTC times."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period_start", "period_end", "feature_id", "group", "value"])
    for period in report.periods:
        start, end = period.start.isoformat(), period.end.isoformat()
        for feature_id, value in period.values.items():
            if period.grouped is None:
                writer.writerow([start, end, feature_id, "", number(value)])
                continue
            for group, grouped in period.grouped.get(feature_id, {}).items():
                writer.writerow([start, end, feature_id, group, number(grouped)])
    return out.getvalue()
