"""What SQLiteStore remembers between statements, and why each memory can never answer wrongly.

* `FeatureCache`: the features, shared by a store's connections, checked by their count and
  the catalogue's change number.
* `GrantCache`: the Grant each grant row decoded to, used only for that very row.
* `Known`: what one connection has read of the file, used only while no other connection
  has committed (SQLite's `PRAGMA data_version` says so) and kept current by the
  connection's own writes; forgotten on any rollback.
"""

from __future__ import annotations

from typing import Any

from meterlib.models import Customer, Feature, Grant
from meterlib.stores import grant_rows
from meterlib.stores.session_adapter import CatalogueMemo


class FeatureCache:
    """The features as last read, shared by a store's connections.

    The row count and the catalogue's change number (bumped by every update or delete of
    a feature) tell whether the cache is current. A rollback must empty it (`clear`) before
    it runs: it may undo rows the cache holds.
    """

    __slots__ = ("catalogue", "features", "key")

    def __init__(self) -> None:
        self.features: tuple[Feature, ...] = ()
        self.key: tuple[int, ...] | None = None  # (count, change number) of `features`
        self.catalogue = CatalogueMemo()  # the Catalogue of the features last listed

    def clear(self) -> None:
        """Forget the features read."""
        self.features = ()
        self.key = None


class GrantCache:
    """The Grants last decoded from (or encoded to) each grant row, shared by a store's
    connections: a row read again unchanged reuses its Grant instead of decoding it again.

    An entry is used only when the row read equals the row it was made from, column for
    column, and decoding depends on the row alone, so a stale entry (another process wrote
    the grant, a transaction rolled back) can only miss, never answer wrongly. Grants are
    immutable, so sharing one between calls and threads is safe. Bounded: it starts over
    when full, which costs a decode per grant and nothing else.
    """

    __slots__ = ("entries", "limit")

    def __init__(self, limit: int = 4096) -> None:
        self.entries: dict[str, tuple[tuple[Any, ...], Grant]] = {}
        self.limit = limit

    def decode(self, row: tuple[Any, ...]) -> Grant:
        """The Grant the row holds."""
        entry = self.entries.get(row[0])
        if entry is not None and entry[0] == row:
            return entry[1]
        grant = grant_rows.grant_from_row(row)
        self.keep(row, grant)
        return grant

    def keep(self, row: tuple[Any, ...], grant: Grant) -> None:
        """Remember that `row` decodes to `grant`."""
        entries = self.entries
        if len(entries) >= self.limit and row[0] not in entries:
            entries.clear()
        entries[row[0]] = (row, grant)


class Known:
    """What one connection has read of the file, kept while nobody else commits to it.

    A check reads a customer and its grants that usually have not changed since the last
    call; reading them again is most of its SQL. `PRAGMA data_version` changes on a
    connection exactly when another connection (thread, process, tool) has committed since
    it last looked, and not for the connection's own commits: `begin` reads it at the start
    of every outermost transaction and forgets everything when it moved. The connection's
    own writes keep what is known current (`put_*` write through, or forget what they
    cannot update), and any rollback, savepoint or whole, forgets it all, so nothing known
    is ever something the file does not hold.

    Only one thread uses a connection at a time, so only one uses its Known. Bounded: it
    starts over when `limit` customers are known.
    """

    __slots__ = ("customers", "event_seq", "features", "grants", "limit", "lockless", "version")

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self.version: int | None = None  # the data_version all below holds for; None: none
        self.customers: dict[str, Customer] = {}
        self.grants: dict[str, tuple[Grant, ...]] = {}  # list_grants' answer, by customer
        self.lockless: set[str] = set()  # customers read holding no lock
        self.features: tuple[Feature, ...] | None = None  # list_features' answer
        self.event_seq = 0  # the last event seq handed out or stored (0: not read yet)

    def begin(self, version: int) -> None:
        """An outermost transaction starts and sees the file at `version`."""
        if version != self.version:
            self.forget()
            self.version = version

    def forget(self, *, keep_seq: bool = False) -> None:
        """Know nothing (until the next `begin`, which reads the file's version again).

        `keep_seq` (a savepoint rolled back): the outer transaction may hold event seqs
        it has handed out and not stored yet, which must not be handed out again."""
        self.version = None
        self.customers.clear()
        self.grants.clear()
        self.lockless.clear()
        self.features = None
        if not keep_seq:
            self.event_seq = 0

    def room(self) -> None:
        """Make room for one more customer."""
        if len(self.customers) >= self.limit or len(self.grants) >= self.limit:
            self.customers.clear()
            self.grants.clear()
            self.lockless.clear()

    def put_grant(self, grant: Grant) -> None:
        """The connection wrote `grant`: update the list it sits in, or forget the lists."""
        held = self.grants.get(grant.customer_id)
        if held is not None:
            for i, old in enumerate(held):
                if old.id == grant.id and old.seq == grant.seq:
                    self.grants[grant.customer_id] = (*held[:i], grant, *held[i + 1 :])
                    return
        # a new grant, a new seq or another customer: no list is known to be current.
        # Creating grants is rare next to checks and tracks, so forgetting is cheap.
        self.grants.clear()
