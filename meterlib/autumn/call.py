"""The `Call` each Autumn handler takes (the ledger, the parsed JSON body, the ledger's now),
and the `Handler` type. Its own module so the handler modules and `routes` (which imports them
to build its table) need not import each other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meterlib.ledger import Ledger


@dataclass
class Call:
    """One request being answered: its ledger, JSON body and the ledger's now (epoch ms)."""

    ledger: Ledger
    body: Any
    now: int
    subject: str | None = None  # what an error refers to, for `ERRORS`
    api_version: str | None = None  # the x-api-version header, if the client sent one


Handler = Callable[[Call], Any]
