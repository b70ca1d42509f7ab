"""`meterlib report`: one self-contained HTML page of a customer: each feature's balance, its
breakdown and a bar chart of its daily usage. Inline CSS and SVG only: nothing is fetched,
no script runs, so it reads the same in any browser, offline. Pure text from results."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from html import escape

from meterlib.cli.render import number, when
from meterlib.quantity import ZERO
from meterlib.results import Balance
from meterlib.usage_results import UsageReport

WIDTH, HEIGHT, TOP = 640, 160, 16  # the chart's drawing area, in SVG units

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1d2433; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { padding: .2em .8em; border-bottom: 1px solid #dde; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.summary { color: #445; } svg { display: block; margin-top: .5em; }
.bar { fill: #4c6ef5; } .axis { stroke: #99a; } .label { font-size: 11px; fill: #556; }
"""


def _figure(value: Decimal) -> str:
    return escape(number(value))


def chart(report: UsageReport, feature_id: str) -> str:
    """An inline SVG bar chart of the feature's usage, one bar per bin; each bar carries its
    bin (`data-period`, ISO 8601 UTC) and value (`data-value`) and a tooltip."""
    periods = report.periods
    values = [p.values[feature_id] for p in periods]
    largest = max([v for v in values if v > 0], default=ZERO)
    step = Decimal(WIDTH) / max(len(periods), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT + TOP + 20}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT + TOP + 20}" role="img"'
        f' aria-label="{escape(feature_id)} usage per day">',
        f'<line class="axis" x1="0" y1="{HEIGHT + TOP}" x2="{WIDTH}" y2="{HEIGHT + TOP}"/>',
    ]
    for index, (period, value) in enumerate(zip(periods, values, strict=True)):
        height = value / largest * HEIGHT if largest and value > 0 else ZERO
        x = step * index
        parts.append(
            f'<rect class="bar" x="{x:.2f}" y="{HEIGHT + TOP - height:.2f}"'
            f' width="{max(step - 2, Decimal(1)):.2f}" height="{height:.2f}"'
            f' data-period="{period.start.isoformat()}" data-value="{value}">'
            f"<title>{escape(period.start.date().isoformat())}: {_figure(value)}</title></rect>"
        )
    if periods:
        parts.append(
            f'<text class="label" x="0" y="{HEIGHT + TOP + 15}">'
            f"{escape(periods[0].start.date().isoformat())}</text>"
            f'<text class="label" x="{WIDTH}" y="{HEIGHT + TOP + 15}" text-anchor="end">'
            f"{escape(periods[-1].start.date().isoformat())}</text>"
        )
    parts.append(f'<text class="label" x="0" y="11">max {_figure(largest)}</text></svg>')
    return "".join(parts)


def _breakdown(balance: Balance) -> str:
    rows = "".join(
        f"<tr><td>{escape(item.id)}</td><td>{escape(item.plan_id or '-')}</td>"
        f"<td>{'unlimited' if item.unlimited else _figure(item.included_grant)}</td>"
        f"<td>{_figure(item.remaining)}</td><td>{_figure(item.usage)}</td>"
        f"<td>{escape(item.reset.interval if item.reset else '-')}</td>"
        f"<td>{escape(when(item.expires_at, never='never'))}</td></tr>"
        for item in balance.breakdown
    )
    return (
        "<table><tr><th>grant</th><th>plan</th><th>included</th><th>remaining</th>"
        f"<th>usage</th><th>reset</th><th>expires</th></tr>{rows}</table>"
    )


def page(
    customer_id: str,
    balances: Mapping[str, Balance],
    usage: Mapping[str, UsageReport],
    *,
    generated: datetime,
) -> str:
    """The whole report: a section per feature with its balance, breakdown and chart."""
    sections = []
    for feature_id, balance in balances.items():
        report = usage.get(feature_id)
        total = report.total[feature_id] if report is not None else None
        summary = (
            f"granted {_figure(balance.granted)} · remaining {_figure(balance.remaining)} · "
            f"usage {_figure(balance.usage)}"
        )
        used = (
            ""
            if total is None
            else f"<p class=summary>Last 30 days: {_figure(total.sum)} in {total.count} events</p>"
        )
        sections.append(
            f'<section id="feature-{escape(feature_id)}"><h2>{escape(feature_id)}</h2>'
            f"<p class=summary>{summary}</p>{_breakdown(balance)}{used}"
            f"{chart(report, feature_id) if report is not None else ''}</section>"
        )
    body = "".join(sections) or "<p>No balances.</p>"
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>Usage of {escape(customer_id)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>Usage of {escape(customer_id)}</h1>"
        f"<p class=summary>Generated {escape(when(generated))}</p>{body}</body></html>\n"
    )
