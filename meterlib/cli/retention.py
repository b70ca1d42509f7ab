"""`meterlib prune`, `dump`, `restore` and `copy`: older events let go, a whole ledger as JSON
lines, and a ledger moved from one store to another (SQLite to PostgreSQL, say) in one command."""

from __future__ import annotations

import os
import sys
import tempfile
from typing import IO

import click

from meterlib import dumping
from meterlib.cli.params import TIME, State, echo_json, pass_state
from meterlib.stores.protocol import Store
from meterlib.stores.sqlite.retention import reclaim_space
from meterlib.stores.sqlite.store import SQLiteStore
from meterlib.stores.urls import open_store


@click.command("dump")
@click.option(
    "--output", "-o", type=click.File("w", encoding="utf-8"), help="A file instead of stdout."
)
@pass_state
def dump(state: State, /, *, output: IO[str] | None) -> None:
    """Write the whole ledger as a versioned JSON-lines dump (restore it with `restore`).

    Taken in one read transaction: a consistent snapshot while writers go on.
    """
    records = state.ledger(write=False).dump(output or sys.stdout)
    if output is not None:
        _summary(state, "wrote", records, output.name)


@click.command("restore")
@click.argument("dump_file", metavar="FILE", type=click.File("r", encoding="utf-8"))
@pass_state
def restore(state: State, /, *, dump_file: IO[str]) -> None:
    """Read a dump into the ledger, which must be empty: all of it, or nothing."""
    records = state.ledger().restore(dump_file)
    _summary(state, "restored", records, state.db)


@click.command("copy")
@click.argument("source_url", metavar="SOURCE_URL")
@click.argument("target_url", metavar="TARGET_URL")
@pass_state
def copy(state: State, /, *, source_url: str, target_url: str) -> None:
    """Copy a ledger into an empty store: a dump of SOURCE_URL restored into TARGET_URL.

    For example `meterlib copy sqlite:///meter.db postgresql://app@db/meter`. A plain path
    names a SQLite file. The source is read in one transaction and the target written in
    one: an error leaves the target as it was. Progress goes to stderr.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        with state.new_ledger(_opened(source_url, write=False)) as source:
            total = source.dump(spool)
        spool.seek(0)
        with (
            click.progressbar(length=total, label="restoring", file=sys.stderr) as bar,
            state.new_ledger(_opened(target_url, write=True)) as target,
        ):
            done = [0]

            def advanced(count: int) -> None:
                bar.update(count - done[0])
                done[0] = count

            records = dumping.restore_from(target.store, spool, progress=advanced)
    _summary(state, "copied", records, target_url)


def _opened(url: str, *, write: bool) -> Store:
    if "://" not in url:
        url = f"sqlite:///{url}"  # an absolute path gives sqlite:////abs, as it should
    if not write and url.startswith("sqlite://") and "mode=" not in url:
        url += "&mode=ro" if "?" in url else "?mode=ro"
    return open_store(url)


def _summary(state: State, did: str, records: int, where: str) -> None:
    if state.as_json:
        echo_json({did: records, "ledger": where})
    else:
        click.echo(f"{did} {records} records ({where})")


@click.command("prune")
@click.option("--before", required=True, type=TIME, help="Remove events recorded before this.")
@click.option(
    "--no-vacuum", is_flag=True, help="Skip the SQLite VACUUM that returns the space (see below)."
)
@pass_state
def prune(state: State, /, *, before: object, no_vacuum: bool) -> None:
    """Remove older events (keeping their hourly totals) and spent idempotency keys.

    Balances never change. The events go a chunk per short transaction, so other processes
    keep tracking meanwhile. Then, on a SQLite file, VACUUM rewrites the file compactly to give
    the space back (it holds the write lock while it runs: writers wait). PostgreSQL reuses
    the space of removed rows once autovacuum has processed the table; its files do not shrink.
    """
    ledger = state.ledger()
    store = ledger.store
    path = store.path if isinstance(store, SQLiteStore) and store.path != ":memory:" else None
    size = _size(path)
    report = ledger.prune(before)
    if path is not None and not no_vacuum:
        state.close()
        reclaim_space(path)
    freed = size - _size(path)
    if state.as_json:
        echo_json({**report._asdict(), "bytes_freed": freed if path is not None else None})
        return
    click.echo(
        f"removed {report.events_removed} events and {report.keys_removed} idempotency keys"
        + (f"; the file shrank by {freed} bytes" if path is not None and not no_vacuum else "")
    )


def _size(path: str | None) -> int:
    if path is None:
        return 0
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
