"""Test helpers for people writing their own Store: `StoreContract`, and `ManualClock`.

`StoreContract` is a plain class whose `test_*` methods use bare `assert`, so it needs no test
framework to import. Subclass it, give it a `make_store()` and the class name your runner
collects (`class TestMyStore(StoreContract)` for pytest), and every rule of
`meterlib.stores.protocol` runs against your store.

The contract is in parts, one mixin a module: `contract` (the `make_store()` hook and the
round trips), `contract_tx` (listings, sequences, transactions), `contract_catalogue` (pages
and catalogue edits); `builders` makes the values they write.
"""

from __future__ import annotations

from meterlib.clock import ManualClock
from meterlib.testing.builders import (
    AMOUNTS,
    CREATED,
    T0,
    customer,
    entity,
    event,
    events,
    feature,
    grant,
    lock,
    seqs,
)
from meterlib.testing.contract import Contract, RoundTrips
from meterlib.testing.contract_catalogue import CatalogueEditing
from meterlib.testing.contract_tx import Transactions

__all__ = [
    "AMOUNTS",
    "CREATED",
    "T0",
    "Contract",
    "ManualClock",
    "StoreContract",
    "customer",
    "entity",
    "event",
    "events",
    "feature",
    "grant",
    "lock",
    "seqs",
]


class StoreContract(RoundTrips, Transactions, CatalogueEditing):
    """Every rule of the store protocol, as tests; subclasses provide `make_store()`."""
