"""The shell of `Ledger.usage`: overdue locks released first (their release is usage), then
one read transaction (the catalogue, the customer, the events in range by
`StoreSession.usage_rows`) and the pure report of `meterlib.operations.usage`."""

from __future__ import annotations

from typing import NamedTuple

from meterlib import shell_setup as shell
from meterlib import usage_pruned
from meterlib.arguments.reports import UsageArgs
from meterlib.errors import CustomerNotFound, EntityNotFound, InvalidRequest
from meterlib.models import Grant
from meterlib.operations import usage
from meterlib.operations.catch_up import feature_of
from meterlib.quantity import exact_arithmetic
from meterlib.rules.bins import grid
from meterlib.state import Catalogue
from meterlib.stores.protocol import StoreSession
from meterlib.usage_results import UsageReport
from meterlib.usage_rows import UsageQuery, UsageRow

MOST_BINS = 10_000
OTHER = "Other"


def edges_of(start: int, end: int, args: UsageArgs, *, through_end: bool = False) -> list[int]:
    """The report's bin edges; InvalidRequest when there would be more than MOST_BINS."""
    edges = grid(start, end, args.bin_size, args.zone, most=MOST_BINS, through_end=through_end)
    if edges is None:
        raise InvalidRequest(
            f"bin_size: more than {MOST_BINS} {args.bin_size} bins from start to end; "
            "pick a larger bin_size or a shorter range",
            field="bin_size",
        )
    return edges


def subject_exists(tx: StoreSession, customer_id: str | None, entity_id: str | None) -> None:
    """CustomerNotFound / EntityNotFound when the report names one that is not there."""
    if customer_id is None:
        return
    if tx.get_customer(customer_id) is None:
        raise CustomerNotFound(customer_id)
    if entity_id is not None and tx.get_entity(customer_id, entity_id) is None:
        raise EntityNotFound(entity_id, customer_id=customer_id)


def reads_properties(args: UsageArgs) -> bool:
    """Whether the report needs each event's properties."""
    return bool(args.filter_by) or (args.group_by or "").startswith(usage.PROPERTY)


def native(ledger: shell.Holds, args: UsageArgs) -> UsageReport:
    """`Ledger.usage`."""
    at = shell.now(ledger)
    edges = edges_of(args.start, args.end, args)
    shell.release_overdue_of(ledger, at, args.customer_id)
    with exact_arithmetic():
        with ledger.store.transaction(write=False) as tx:
            catalogue = tx.catalogue()
            counted = usage.counted_natively(feature_of(catalogue, f) for f in args.feature_ids)
            subject_exists(tx, args.customer_id, args.entity_id)
            query = UsageQuery(
                args.start,
                args.end,
                usage.names_of(counted),
                args.customer_id,
                args.entity_id,
                properties=reads_properties(args),
            )
            rows = tx.usage_rows(query) + pruned_rows(tx, query, edges, args)
        grouping = None
        if args.group_by is not None:
            grouping = usage.Grouping(args.group_by, args.max_groups, OTHER)
        return usage.usage_report(
            rows,
            counted=counted,
            edges=edges,
            now=at,
            measure=args.measure,
            grouping=grouping,
            filter_by=args.filter_by,
        )


def pruned_rows(
    tx: StoreSession, query: UsageQuery, edges: list[int], args: UsageArgs
) -> list[UsageRow]:
    """The hourly totals of pruned time in the window (`meterlib.usage_pruned`)."""
    through = tx.pruned_through()
    if through is None or not usage_pruned.touches_pruned(query, through):
        return []
    grouped = "group_by" if args.group_by else "filter_by" if args.filter_by else None
    usage_pruned.refuse_inexact(through, query, edges, grouped=grouped)
    return usage_pruned.rows_of(tx.list_hourly_totals(query.start, query.end), query)


class Read(NamedTuple):
    """What the bridge's events.aggregate reads in one transaction."""

    catalogue: Catalogue
    rows: list[UsageRow]
    grants: list[Grant]  # the customer's, when asked for (what deductions name)


def read_for_bridge(ledger: shell.Holds, query: UsageQuery, *, grants: bool) -> Read:
    """Overdue locks released, then the catalogue, the customer checked (CustomerNotFound;
    features and entities are not: Autumn answers zeros), the events and maybe the grants."""
    shell.release_overdue_of(ledger, shell.now(ledger), query.customer_id)
    with ledger.store.transaction(write=False) as tx:
        catalogue = tx.catalogue()
        subject_exists(tx, query.customer_id, None)
        rows = tx.usage_rows(query)
        held = tx.list_grants(query.customer_id) if grants and query.customer_id else []
    return Read(catalogue, rows, held)
