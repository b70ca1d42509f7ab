"""Fixtures of the billing-controls suite: every test still runs over every store."""

from __future__ import annotations

import pytest

from meterlib import Ledger
from meterlib.notifications import Notification


@pytest.fixture
def inbox(ledger: Ledger) -> list[Notification]:
    """Every notification the ledger delivers, in delivery order."""
    got: list[Notification] = []
    ledger.subscribe(got.append)
    return got
