"""Limits at the edges through the bridge (issue 16): on every store, sync and async, the
transport answers every hostile body with a 4xx in Autumn's error shape, refuses an overflow
before it commits, and writes amounts as exact JSON number text."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from autumn_sdk import errors

from meterlib.autumn.sdk import AutumnFake
from meterlib.autumn.wire import encode
from meterlib.quantity import ExactNumber, to_json_number
from meterlib.stores import Store

Post = Callable[[str, bytes], httpx.Response]


@pytest.fixture
def bridge(store: Store) -> Iterator[AutumnFake]:
    """An AutumnFake over every store, with feature `messages` and customer c1."""
    with AutumnFake(store=store) as fake:
        fake.ledger.create_feature("messages")
        fake.ledger.create_customer("c1")
        yield fake


@pytest.fixture(params=["sync", "async"])
def post(request: pytest.FixtureRequest, bridge: AutumnFake) -> Post:
    """POST raw bytes to `/v1/<operation>` through a sync or an async httpx client."""

    def sync(operation: str, content: bytes) -> httpx.Response:
        with httpx.Client(transport=bridge.transport, base_url="https://x") as client:
            return client.post(f"/v1/{operation}", content=content)

    def in_async(operation: str, content: bytes) -> httpx.Response:
        async def run() -> httpx.Response:
            async with httpx.AsyncClient(transport=bridge.transport, base_url="https://x") as c:
                return await c.post(f"/v1/{operation}", content=content)

        return asyncio.run(run())

    return sync if request.param == "sync" else in_async


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"message", "code", "env"}, body
    return response.status_code, body["code"]


def usage(bridge: AutumnFake) -> Decimal:
    balance = bridge.ledger.balance("c1", "messages")
    assert balance is not None
    return balance.usage


class TestOverflowThroughTheBridge:
    """Item 1: the usage that would pass 10^18 is a 400 before any commit, so a client that
    retries never counts it twice, and every later check still answers."""

    def test_twelve_tracks_then_retries(self, bridge: AutumnFake, post: Post) -> None:
        bridge.ledger.create("c1", "messages", included=10**17, overage_allowed=True)
        track = json.dumps({"customer_id": "c1", "feature_id": "messages", "value": 9 * 10**16})
        for _ in range(11):
            assert post("balances.track", track.encode()).status_code == 200
        assert usage(bridge) == 99 * 10**16
        for _ in range(3):  # the twelfth, and a client retrying it
            assert error_of(post("balances.track", track.encode())) == (400, "invalid_request")
        assert usage(bridge) == 99 * 10**16
        check = post("balances.check", b'{"customer_id": "c1", "feature_id": "messages"}')
        assert check.status_code == 200
        assert check.json()["balance"]["usage"] == 99 * 10**16

    def test_through_the_sdk(self, bridge: AutumnFake) -> None:
        bridge.ledger.create("c1", "messages", included=10**17, overage_allowed=True)
        for _ in range(11):
            bridge.autumn.track(customer_id="c1", feature_id="messages", value=9 * 10**16)
        with pytest.raises(errors.AutumnDefaultError) as info:
            bridge.autumn.track(customer_id="c1", feature_id="messages", value=9 * 10**16)
        assert info.value.status_code == 400
        with pytest.raises(errors.AutumnDefaultError):
            asyncio.run(
                bridge.autumn.track_async(customer_id="c1", feature_id="messages", value=9e16)
            )
        assert usage(bridge) == 99 * 10**16
        assert bridge.autumn.check(customer_id="c1", feature_id="messages").allowed


class TestHostileBodies:
    """Item 3: what json.loads itself cannot take is a 400 as well."""

    def test_an_integer_of_more_than_4300_digits(self, post: Post) -> None:
        body = b'{"customer_id": "c1", "feature_id": "messages", "value": ' + b"9" * 5000 + b"}"
        assert error_of(post("balances.track", body)) == (400, "invalid_inputs")

    @pytest.mark.parametrize("levels", [33, 1000, 100_000])
    def test_deep_properties(self, bridge: AutumnFake, post: Post, levels: int) -> None:
        bridge.ledger.create("c1", "messages", included=5)
        deep = '{"a":' * levels + "1" + "}" * levels
        body = f'{{"customer_id": "c1", "feature_id": "messages", "properties": {deep}}}'
        assert error_of(post("balances.track", body.encode())) == (400, "invalid_inputs")
        assert usage(bridge) == 0

    @pytest.mark.parametrize(
        "body",
        [
            b'{"customer_id": "c1", "feature_id": "messages", "value": 1e400}',
            b'{"customer_id": "c1", "feature_id": "messages", "value": 1e18}',
            b'{"customer_id": "c\\ud800", "feature_id": "messages"}',
            b'{"customer_id": "c\\u0000", "feature_id": "messages"}',
            b'{"customer_id": "c1", "feature_id": "messages", "timestamp": 1e20}',
            b"[" * 100_000,
        ],
    )
    def test_other_bad_values(self, bridge: AutumnFake, post: Post, body: bytes) -> None:
        bridge.ledger.create("c1", "messages", included=5)
        status, _ = error_of(post("balances.track", body))
        assert status == 400
        assert usage(bridge) == 0

    def test_a_lock_expiring_now_is_refused(self, bridge: AutumnFake, post: Post) -> None:
        bridge.ledger.create("c1", "messages", included=5)
        now = int(bridge.now().timestamp() * 1000)
        lock = {"enabled": True, "lock_id": "l1", "expires_at": now}
        body = json.dumps({"customer_id": "c1", "feature_id": "messages", "lock": lock})
        assert error_of(post("balances.check", body.encode())) == (400, "invalid_request")


class TestExactNumbersOnTheWire:
    """The wire writes amounts as exact JSON number text, never through a float."""

    def test_a_balance_a_float_cannot_hold(self, bridge: AutumnFake, post: Post) -> None:
        amount = Decimal("123456789012.1234567891")
        bridge.ledger.create("c1", "messages", included=amount)
        response = post("balances.check", b'{"customer_id": "c1", "feature_id": "messages"}')
        assert b'"remaining":123456789012.1234567891,' in response.content
        parsed = json.loads(response.content, parse_float=Decimal)
        assert parsed["balance"]["remaining"] == amount

    def test_ordinary_numbers_keep_their_bytes(self) -> None:
        payload: dict[str, Any] = {"a": [0.1, 1, 2.5, "x\u00e9", None, True], "b": {"c": -3}}
        assert encode(payload) == json.dumps(payload, separators=(",", ":")).encode()

    @pytest.mark.parametrize(
        "text",
        ["999999999999999999.9999999999", "-0.0000000001", "12345678.123456789", "-5", "0.1"],
    )
    def test_every_amount_in_range_is_written_exactly(self, text: str) -> None:
        number = to_json_number(Decimal(text))
        assert Decimal(encode([number])[1:-1].decode()) == Decimal(text)
        assert float(number) == float(Decimal(text))  # Python callers still get a number

    def test_a_float_that_cannot_hold_it_carries_its_text(self) -> None:
        number = to_json_number(Decimal("999999999999999999.9999999999"))
        assert isinstance(number, ExactNumber)
        assert number.text == "999999999999999999.9999999999"
        json.dumps(number)  # still a float to the standard library
