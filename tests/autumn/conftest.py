"""Fixtures for the Autumn bridge tests: the plugin's `autumn_fake`, and a stocked variant."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from autumn_sdk import errors

# The pytest11 entry point loads the plugin when meterlib is installed; importing the fixture
# here also makes it available in a plain checkout.
from meterlib.autumn.plugin import autumn_fake  # noqa: F401
from meterlib.autumn.sdk import AutumnFake


@pytest.fixture
def fake(autumn_fake: AutumnFake) -> AutumnFake:  # noqa: F811
    """`autumn_fake` with features messages (metered), pro (boolean), credits (2 per message)
    and customer c1."""
    ledger = autumn_fake.ledger
    ledger.create_feature("messages", name="Messages", event_names=("chat",))
    ledger.create_feature("pro", name="Pro", type="boolean")
    ledger.create_feature("credits", type="credit_system", credit_schema={"messages": 2})
    ledger.create_customer("c1", name="Ann")
    return autumn_fake


def _decode(excinfo: pytest.ExceptionInfo[errors.AutumnDefaultError]) -> tuple[int, Any]:
    return excinfo.value.status_code, json.loads(excinfo.value.body)


@pytest.fixture
def api_error() -> Callable[[pytest.ExceptionInfo[errors.AutumnDefaultError]], tuple[int, Any]]:
    """Turns `pytest.raises(AutumnDefaultError)` info into (status, decoded JSON body)."""
    return _decode


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest, fake: AutumnFake) -> Callable[..., Any]:
    """Calls an SDK operation by dotted name ("balances.list"), through the sync client or,
    in the async run, its `_async` twin on the async client."""

    def run(operation: str, **kwargs: Any) -> Any:
        target: Any = fake.autumn
        *path, name = operation.split(".")
        for part in path:
            target = getattr(target, part)
        if request.param == "sync":
            return getattr(target, name)(**kwargs)
        return asyncio.run(getattr(target, f"{name}_async")(**kwargs))

    return run
