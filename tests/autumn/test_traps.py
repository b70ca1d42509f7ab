"""One test per trap of autumn-wire §4, each showing the bridge (or the fixture) avoids it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from autumn_sdk import Autumn, errors, models

import meterlib
from meterlib import StoreError
from meterlib.autumn.sdk import AutumnFake
from meterlib.autumn.wire import encode

ROOT = Path(meterlib.__file__).resolve().parents[1]


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter that imports this checkout; return its stdout."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


class Recorder:
    """An SDK client over the fake's transport that keeps every request and response."""

    def __init__(self, fake: AutumnFake, **options: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.responses: list[httpx.Response] = []
        hooks = {"request": [self.requests.append], "response": [self.responses.append]}
        self.autumn = Autumn(
            secret_key="am_sk_test",
            client=httpx.Client(transport=fake.transport, event_hooks=hooks),
            async_client=httpx.AsyncClient(transport=fake.transport),
            **options,
        )

    def raw(self) -> Any:
        """The decoded JSON of the last response."""
        return json.loads(self.responses[-1].read())


@pytest.fixture
def recorder(fake: AutumnFake) -> Iterator[Recorder]:
    """A recording SDK client with fail_open=False."""
    yield Recorder(fake, fail_open=False)


def test_trap_01_features_name_error_is_repaired() -> None:
    """autumn.features raises NameError in a fresh 1.2.0; repair_features fixes it and cleans up."""
    out = run_python(
        "import builtins, autumn_sdk\n"
        "a = autumn_sdk.Autumn(secret_key='x')\n"
        "try:\n    a.features\n    print('loaded')\n"
        "except NameError:\n    print('NameError')\n"
        "from meterlib.autumn import repair_features\n"
        "print(repair_features(), repair_features())\n"
        "print(type(a.features).__name__)\n"
        "print([n for n in dir(builtins) if 'Dimensions' in n])\n"
    )
    assert out.split("\n")[:4] == ["NameError", "True False", "Features", "[]"]


def test_trap_02_no_5xx_so_nothing_fails_open(fake: AutumnFake, monkeypatch: Any) -> None:
    """Bad input is a 4xx even for a fail-open client; the fixture's client raises on a 5xx."""
    default = Autumn(
        secret_key="am_sk_test",
        client=httpx.Client(transport=fake.transport),
        async_client=httpx.AsyncClient(transport=fake.transport),
    )
    with pytest.raises(errors.AutumnDefaultError) as info:
        default.check(customer_id="c9", feature_id="messages")
    assert info.value.status_code == 404

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("disk full")

    monkeypatch.setattr(fake.ledger, "check", broken)
    with pytest.raises(errors.AutumnDefaultError) as info:
        fake.autumn.check(customer_id="c1", feature_id="messages")
    assert info.value.status_code == 500


def test_trap_03_json_200_only(fake: AutumnFake, recorder: Recorder) -> None:
    """Every success is status 200 with content-type application/json, batch_track included."""
    fake.ledger.create("c1", "messages", included=10)
    a = recorder.autumn
    a.check(customer_id="c1", feature_id="messages")
    a.track(customer_id="c1", feature_id="messages")
    a.batch_track(request=[{"customer_id": "c1", "feature_id": "messages"}])
    a.balances.create(customer_id="c1", feature_id="credits", included_grant=1)
    a.balances.update(customer_id="c1", feature_id="credits", remaining=2)
    a.balances.list(customer_id="c1")
    a.balances.delete(customer_id="c1", feature_id="credits")
    a.customers.get_or_create(customer_id="c1")
    a.customers.get(customer_id="c1")
    a.events.list(customer_id="c1")
    a.features.get(feature_id="messages")
    a.features.list()
    assert len(recorder.responses) == 12
    assert {(r.status_code, r.headers["content-type"]) for r in recorder.responses} == {
        (200, "application/json")
    }


def test_trap_04_required_nullable_keys_present(fake: AutumnFake, recorder: Recorder) -> None:
    """Nullable required keys are sent as null, never left out."""
    fake.ledger.create("c1", "messages", included=10)
    a = recorder.autumn
    a.check(customer_id="c1", feature_id="messages")
    check = recorder.raw()
    assert check["flag"] is None
    assert check["balance"]["max_purchase"] is None
    assert check["balance"]["next_reset_at"] is None
    item = check["balance"]["breakdown"][0]
    assert {k: item[k] for k in ("plan_id", "price", "expires_at")} == dict.fromkeys(
        ("plan_id", "price", "expires_at")
    )
    assert "reset" in item
    a.check(customer_id="c1", feature_id="pro")
    assert {"balance": None, "flag": None}.items() <= recorder.raw().items()
    a.balances.list(customer_id="c1")
    assert recorder.raw()["next_cursor"] is None
    a.events.list(customer_id="c1")
    assert recorder.raw() == {"list": [], "next_cursor": None}


def test_trap_05_epoch_ms_numbers(fake: AutumnFake, recorder: Recorder) -> None:
    """Instants go out as epoch-ms numbers and come in as floats (or ints for timestamp)."""
    fake.ledger.create("c1", "messages", included=10, reset="month")
    a = recorder.autumn
    a.balances.create(
        customer_id="c1",
        feature_id="credits",
        included_grant=5,
        reset={"interval": "day"},
        next_reset_at=fake.clock() + 3_600_000,
    )
    assert b'"next_reset_at":1735693200000.0' in recorder.requests[-1].content
    a.track(customer_id="c1", feature_id="messages", timestamp=fake.clock())
    assert b'"timestamp":1735689600000' in recorder.requests[-1].content
    a.customers.get(customer_id="c1")
    raw = recorder.raw()
    assert raw["created_at"] == 1_735_689_600_000
    assert raw["balances"]["messages"]["next_reset_at"] == 1_738_368_000_000
    assert raw["balances"]["credits"]["next_reset_at"] == 1_735_693_200_000


def test_trap_06_no_infinity(fake: AutumnFake, recorder: Recorder) -> None:
    """Unlimited is unlimited:true with granted and remaining 0, never Infinity."""
    fake.ledger.create("c1", "messages", unlimited=True)
    res = recorder.autumn.check(customer_id="c1", feature_id="messages", required_balance=10**9)
    raw = recorder.raw()["balance"]
    assert (res.allowed, raw["unlimited"], raw["granted"], raw["remaining"]) == (True, True, 0, 0)
    assert (raw["max_purchase"], raw["next_reset_at"]) == (None, None)
    with pytest.raises(ValueError):
        encode(float("nan"))


def test_trap_07_customer_balances_never_null(fake: AutumnFake, recorder: Recorder) -> None:
    """customers.* balances hold only real balances; track's map may name a pool as null."""
    fake.ledger.create("c1", "credits", included=10)
    track = recorder.autumn.track(customer_id="c1", feature_id="messages")
    assert track.balances == {"messages": None, "credits": track.balances["credits"]}
    customer = recorder.autumn.customers.get(customer_id="c1")
    assert isinstance(customer, models.GetCustomerResponse)
    assert set(recorder.raw()["balances"]) == {"credits"}


def test_trap_08_batch_never_fails(fake: AutumnFake, recorder: Recorder) -> None:
    """A bare array goes in; `{"success": true}` comes out even when an item is dropped."""
    fake.ledger.create("c1", "messages", included=10)
    res = recorder.autumn.batch_track(
        request=[
            {"customer_id": "c1", "feature_id": "messages", "value": 2},
            {"customer_id": "nobody", "feature_id": "messages"},
        ]
    )
    assert json.loads(recorder.requests[-1].content)[0]["customer_id"] == "c1"
    assert (res.success, recorder.raw()) == (True, {"success": True})
    assert fake.ledger.balance("c1", "messages").remaining == 8


def test_trap_09_features_list_without_body(recorder: Recorder) -> None:
    """features.list sends no body and no content-type, and is answered all the same."""
    res = recorder.autumn.features.list()
    sent = recorder.requests[-1]
    assert (sent.content, "content-type" in sent.headers) == (b"", False)
    assert len(res.list) == 3


def test_trap_10_bugs_propagate_raw(fake: AutumnFake, monkeypatch: Any) -> None:
    """An unexpected exception inside the ledger reaches the caller unchanged, never 'allowed'."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(fake.ledger, "check", broken)
    default = Autumn(
        secret_key="am_sk_test",
        client=httpx.Client(transport=fake.transport),
        async_client=httpx.AsyncClient(transport=fake.transport),
    )
    with pytest.raises(RuntimeError, match="bug"):
        default.check(customer_id="c1", feature_id="messages")


def test_trap_11_async_client_is_wired(fake: AutumnFake, api_error: Any) -> None:
    """The fixture passes async_client too: async calls reach the ledger, errors included."""
    fake.ledger.create("c1", "messages", included=3)
    res = asyncio.run(fake.autumn.check_async(customer_id="c1", feature_id="messages"))
    assert (res.customer_id, res.balance.remaining) == ("c1", 3)
    with pytest.raises(errors.AutumnDefaultError) as info:
        asyncio.run(fake.autumn.check_async(customer_id="c9", feature_id="messages"))
    assert api_error(info)[0] == 404


def test_trap_12_one_request_no_implicit_key(fake: AutumnFake, recorder: Recorder) -> None:
    """Each call is one request with no idempotency header; a 409 is not retried."""
    fake.ledger.create("c1", "messages", included=10)
    a = recorder.autumn
    a.track(customer_id="c1", feature_id="messages")
    a.track(customer_id="c1", feature_id="messages")
    assert len(recorder.requests) == 2
    assert all("idempotency-key" not in r.headers for r in recorder.requests)
    headers = {"Idempotency-Key": "k"}
    a.track(customer_id="c1", feature_id="messages", http_headers=headers)
    with pytest.raises(errors.AutumnDefaultError):
        a.track(customer_id="c1", feature_id="messages", http_headers=headers)
    assert len(recorder.requests) == 4
    assert fake.ledger.balance("c1", "messages").usage == 3
