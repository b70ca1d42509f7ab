"""Autumn's `events.aggregate` (alias `events/aggregate`): the request checked as Autumn's
zod schema and handler do, then the pure report of `operations.usage` with Autumn's choices
where they differ from the native `Ledger.usage` (autumn-aggregate.md §0): events matched
by the name they were tracked under, no feature lookup, a grid through the bin holding `end`,
windows at UTC-hour grain, the overflow group "AUTUMN_RESERVED", `total` for features with
events only, and `deductions` with `aggregate_on: "deducted"`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from meterlib import shell_usage
from meterlib.arguments import reports
from meterlib.autumn.aggregate_deductions import deductions
from meterlib.autumn.wire import Body, invalid
from meterlib.errors import InvalidRequest
from meterlib.operations import usage
from meterlib.quantity import exact_arithmetic, to_json_number
from meterlib.rules.bins import BIN_SIZES, HOUR_MS
from meterlib.usage_rows import UsageQuery

if TYPE_CHECKING:
    from meterlib.autumn.call import Call

RANGES = ("24h", "7d", "30d", "90d", "last_cycle", "1bc", "3bc")
# a meterlib customer has no plan, so no billing cycle: Autumn falls back to one day
_RANGE_DAYS = {"24h": 1, "7d": 7, "30d": 30, "90d": 90, "last_cycle": 1, "1bc": 1, "3bc": 1}
_COLUMNS = ("$customer_id", "$entity_id", "$plan_id", "$feature_id")
OVERFLOW = "AUTUMN_RESERVED"
DAY_MS = 86_400_000


class Request(NamedTuple):
    """A checked events.aggregate body: the native arguments and Autumn's own."""

    args: reports.UsageArgs
    range: str | None  # None: custom_range
    aggregate_on: str | None


def _feature_ids(body: Body) -> tuple[str, ...]:
    value = body.data.get("feature_id")
    if isinstance(value, str) and value:
        return (value,)
    if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        invalid("feature_id", "expected a non-empty string or an array of non-empty strings")
    return tuple(dict.fromkeys(value))


def _group_by(body: Body, aggregate_on: str | None) -> str | None:
    value = body.text("group_by")
    if value is None:
        return None
    if value in _COLUMNS:
        if value == "$feature_id" and aggregate_on is None:
            invalid("group_by", "$feature_id is only supported with aggregate_on")
        return value
    if not value.startswith("properties."):
        invalid("group_by", "must start with 'properties.' or be a $ column")
    return reports.property_path(value, "group_by")


def _filters(body: Body) -> dict[str, str]:
    value = body.mapping("filter_by") or {}
    for key, text in value.items():
        if not isinstance(text, str):
            invalid(f"filter_by.{key}", "must be a string")
    if len(value) > reports.MAX_FILTERS:
        invalid("filter_by", f"at most {reports.MAX_FILTERS} filters are allowed")
    return reports.filters(value)


def _window(body: Body, now: int) -> tuple[str | None, int, int]:
    """(range, start, end): a named range ends now; a custom one is cut to whole seconds."""
    window = body.choice("range", RANGES)
    custom = body.nested("custom_range")
    if custom is not None:
        start, end = custom.number("start"), custom.number("end")
        if start is None or end is None:
            invalid("custom_range", "start and end are required")
        if start >= end:
            invalid("custom_range", "start must be before end")
        if window is not None and start and end:
            invalid("range", "Only one of range or custom_range may be provided")
        if window is None:
            return None, int(start) // 1000 * 1000, int(end) // 1000 * 1000
    window = window or "1bc"
    return window, now - _RANGE_DAYS[window] * DAY_MS, now


def parse(call: Call) -> Request:
    """The body checked in Autumn's order: the schema, then the aggregate_on rules."""
    body = Body(call.body)
    features = _feature_ids(body)
    customer_id = body.text("customer_id", required=body.has("customer_id"))
    entity_id = body.text("entity_id", required=body.has("entity_id"))
    window, start, end = _window(body, call.now)
    bin_size = body.choice("bin_size", BIN_SIZES) or ("hour" if window == "24h" else "day")
    aggregate_on = body.choice("aggregate_on", ("deducted",))
    group_by = _group_by(body, aggregate_on)
    filter_by = _filters(body)
    max_groups = body.whole("max_groups", minimum=1, maximum=reports.MAX_GROUPS) or 9
    measure = body.choice("measure", reports.MEASURES) or "sum"
    zone = reports.zone(body.text("timezone") or "UTC")
    if aggregate_on is not None:
        refused = None
        if customer_id is None:
            refused = "customer_id is required when aggregate_on is set"
        elif group_by == "$plan_id":
            refused = "group_by $plan_id is not supported when aggregate_on is set"
        elif filter_by:
            refused = "filter_by is not supported when aggregate_on is set"
        if refused is not None:
            raise InvalidRequest(refused, code="invalid_request")
    args = reports.UsageArgs(
        features,
        customer_id,
        entity_id,
        start,
        end,
        bin_size,
        zone,
        group_by,
        filter_by,
        max_groups,
        measure,
    )
    return Request(args, window, aggregate_on)


def _total_window(request: Request, now: int) -> tuple[int, int]:
    """Where `total` counts, as Autumn's getCountAndSum: a named range from the UTC day (day
    bins) or hour of its start to now; a custom range as given, both ends included."""
    args = request.args
    if request.range is None:
        return args.start, args.end + 1
    grain = DAY_MS if args.bin_size == "day" else HOUR_MS
    return args.start - args.start % grain, now + 1


def aggregate(call: Call) -> Any:
    """`POST /v1/events.aggregate`."""
    request = parse(call)
    args = request.args
    # the list keeps the events whose UTC hour starts within [start, end]
    first_hour = -(-args.start // HOUR_MS) * HOUR_MS
    after = args.end - args.end % HOUR_MS + HOUR_MS
    total_start, total_end = _total_window(request, call.now)
    deducted = request.aggregate_on is not None
    query = UsageQuery(
        min(first_hour, total_start),
        max(after, total_end),
        None if deducted else args.feature_ids,
        args.customer_id,
        args.entity_id,
        properties=shell_usage.reads_properties(args),
        deductions=deducted,
    )
    read = shell_usage.read_for_bridge(call.ledger, query, grants=deducted)
    edges = shell_usage.edges_of(args.start, args.end, args, through_end=True)
    counted = {f: (f,) for f in args.feature_ids}
    grouping = None
    if args.group_by is not None and args.group_by != "$feature_id":
        grouping = usage.Grouping(args.group_by, args.max_groups, OVERFLOW)
    with exact_arithmetic():
        in_list = [r for r in read.rows if first_hour <= r.timestamp < after]
        shown = usage.usage_report(
            in_list,
            counted=counted,
            edges=edges,
            now=call.now,
            measure=args.measure,
            grouping=grouping,
            filter_by=args.filter_by,
        )
        in_total = [r for r in read.rows if total_start <= r.timestamp < total_end]
        totals = usage.tally(
            in_total, counted=counted, edges=(total_start, total_end), filter_by=args.filter_by
        )
        body = shown.to_dict()
        if grouping is not None and not any(
            p.grouped and any(p.grouped.values()) for p in shown.periods
        ):
            body["list"] = []  # Autumn's grid is bins x groups seen: none seen, no bins
        body["total"] = {
            f: {"count": n, "sum": to_json_number(totals.sums[f])}
            for f, n in totals.counts.items()
            if n
        }
        if deducted:
            body["deductions"] = deductions(in_list, read, edges=edges, args=args, now=call.now)
    return body
