"""The Ledger: Autumn's create / update / check / track over a store, one transaction a call.

Each public method validates its arguments first (nothing is read or written for bad input),
then loads the customer's state in one store call, lets a pure decision of `operations/` work
out the result and the effects, and applies them in one store call (`meterlib.operation`). An
exception anywhere rolls the whole call back. The calls live in one module per concern; this
class puts them together.
"""

from __future__ import annotations

from meterlib.ledger_catalogue import CatalogueCalls
from meterlib.ledger_events import EventCalls
from meterlib.ledger_grants import GrantCalls
from meterlib.ledger_reads import ReadCalls
from meterlib.ledger_usage import UsageCalls


class Ledger(CatalogueCalls, GrantCalls, ReadCalls, UsageCalls, EventCalls):
    """Per-customer feature balances with Autumn's semantics, in-process.

    `Ledger(store, clock=...)`; the default store is a fresh MemoryStore and the default
    clock the system clock. `reverse_deduction_order=True` drains the longest intervals first;
    `persist_overage_on_reset=True` carries free overage across a reset. `approve_topup`,
    if given, is asked (with a `TopupRequest`, inside the transaction) before each automatic
    top-up and may refuse it by returning False: the place to charge for it. It runs while
    the store transaction is open, so it must be quick and must not call the ledger.
    """
