"""AutumnTransport at the HTTP level: routing, statuses, error bodies, validation, idempotency."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from autumn_sdk import Autumn, errors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterlib import (
    AlreadyExists,
    BalanceNotFound,
    CustomerNotFound,
    DuplicateIdempotencyKey,
    EntityNotFound,
    FeatureNotFound,
    InvalidRequest,
    LockNotFound,
    StoreError,
)
from meterlib.autumn import ROUTES
from meterlib.autumn.routes import status_and_code
from meterlib.autumn.sdk import AutumnFake
from meterlib.autumn.wire import encode
from meterlib.errors import MeterError


def post(fake: AutumnFake, operation: str, body: Any = None, **headers: str) -> httpx.Response:
    """POST a JSON body (or raw bytes) to `/v1/<operation>` through a plain httpx client."""
    content = body if isinstance(body, bytes) else json.dumps({} if body is None else body).encode()
    with httpx.Client(transport=fake.transport, base_url="https://api.useautumn.com") as client:
        return client.post(f"/v1/{operation}", content=content, headers=headers)


def failure(response: httpx.Response) -> tuple[int, str, str]:
    """(status, code, message) of an error response, after checking its exact shape."""
    body = response.json()
    assert set(body) == {"message", "code", "env"}
    assert body["env"] == "sandbox"
    return response.status_code, body["code"], body["message"]


class TestShape:
    """What every answer looks like."""

    def test_is_both_kinds_of_transport(self, fake: AutumnFake) -> None:
        """The transport serves sync and async httpx clients."""
        assert isinstance(fake.transport, httpx.BaseTransport)
        assert isinstance(fake.transport, httpx.AsyncBaseTransport)

    def test_success_is_200_json(self, fake: AutumnFake) -> None:
        """Successes are exactly 200 with content-type application/json, batch_track included."""
        fake.ledger.create("c1", "messages", included=1)
        for operation, body, expected in [
            ("balances.check", {"customer_id": "c1", "feature_id": "messages"}, None),
            ("balances.track", {"customer_id": "c1", "feature_id": "messages"}, None),
            (
                "balances.batch_track",
                [{"customer_id": "c1", "feature_id": "pro"}],
                {"success": True},
            ),
            ("balances.delete", {"customer_id": "c1"}, {"success": True}),
            ("features.list", None, None),
        ]:
            response = post(fake, operation, body)
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json"
            if expected is not None:
                assert response.json() == expected

    def test_host_and_prefix_are_ignored(self, fake: AutumnFake) -> None:
        """Routing looks at the /v1/<op> suffix only, whatever the server_url."""
        autumn = Autumn(
            secret_key="am_sk_test",
            server_url="http://autumn.local/some/prefix/",
            client=httpx.Client(transport=fake.transport),
            async_client=httpx.AsyncClient(transport=fake.transport),
            fail_open=False,
        )
        fake.ledger.create("c1", "messages", included=4)
        assert autumn.check(customer_id="c1", feature_id="messages").balance.remaining == 4

    def test_every_route_is_served(self) -> None:
        """The route table covers every endpoint of autumn-wire §3."""
        assert set(ROUTES) == {
            "balances.check",
            "balances.track",
            "balances.batch_track",
            "balances.create",
            "balances.update",
            "balances.delete",
            "balances.list",
            "balances.finalize",
            "customers.get_or_create",
            "customers.get",
            "customers.update",
            "entities.create",
            "entities.get",
            "entities.update",
            "events.list",
            "features.create",
            "features.get",
            "features.list",
            "events.aggregate",
        }

    def test_unknown_route(self, fake: AutumnFake) -> None:
        """A route meterlib does not serve is a JSON 404, never a 5xx."""
        assert failure(post(fake, "billing.attach", {}))[:2] == (404, "not_found")

    def test_get_is_refused(self, fake: AutumnFake) -> None:
        """Autumn's RPC routes take POST only."""
        with httpx.Client(transport=fake.transport) as client:
            response = client.get("https://api.useautumn.com/v1/features.list")
        assert failure(response)[:2] == (405, "method_not_allowed")

    def test_async_client(self, fake: AutumnFake) -> None:
        """handle_async_request answers like handle_request."""

        async def run() -> httpx.Response:
            async with httpx.AsyncClient(transport=fake.transport) as client:
                return await client.post("http://x/v1/features.get", json={"feature_id": "pro"})

        response = asyncio.run(run())
        assert (response.status_code, response.json()["type"]) == (200, "boolean")

    def test_encoder_refuses_nan(self) -> None:
        """The encoder raises rather than emit NaN or Infinity tokens."""
        with pytest.raises(ValueError):
            encode({"remaining": float("inf")})


class TestErrorTable:
    """meterlib errors map to Autumn's statuses and codes through one table."""

    @pytest.mark.parametrize(
        ("error", "subject", "expected"),
        [
            (CustomerNotFound("c9"), None, (404, "customer_not_found")),
            (EntityNotFound("e9"), None, (404, "entity_not_found")),
            (FeatureNotFound("f9"), None, (404, "feature_not_found")),
            (FeatureNotFound("ev"), "event_name", (404, "invalid_request")),
            (BalanceNotFound("none"), None, (404, "invalid_request")),
            (LockNotFound("L9"), None, (400, "invalid_request")),
            (DuplicateIdempotencyKey("k"), None, (409, "duplicate_idempotency_key")),
            (AlreadyExists("taken"), None, (409, "already_exists")),
            (AlreadyExists("taken"), "lock", (409, "lock_already_exists")),
            (AlreadyExists("taken"), "feature", (409, "duplicate_feature_id")),
            (InvalidRequest("x: bad"), None, (400, "invalid_inputs")),
            (InvalidRequest("no", code="invalid_request"), None, (400, "invalid_request")),
            (StoreError("disk"), None, (500, "internal_error")),
            (MeterError("other", code="odd"), None, (400, "odd")),
        ],
    )
    def test_mapping(self, error: MeterError, subject: str | None, expected: Any) -> None:
        """Each error class lands on its Autumn status and code."""
        assert status_and_code(error, subject) == expected

    def test_unknown_customer(self, fake: AutumnFake) -> None:
        """An unknown customer is Autumn's 404 with its message."""
        response = post(fake, "balances.check", {"customer_id": "c9", "feature_id": "messages"})
        assert failure(response) == (404, "customer_not_found", "Customer c9 not found")

    def test_unknown_entity_of_unknown_customer(self, fake: AutumnFake) -> None:
        """With entity_id and no such customer Autumn answers entity_not_found."""
        body = {"customer_id": "c9", "entity_id": "e1", "feature_id": "messages"}
        assert failure(post(fake, "balances.track", body))[:2] == (404, "entity_not_found")

    def test_unknown_feature(self, fake: AutumnFake) -> None:
        """An unknown feature_id is 404 feature_not_found."""
        body = {"customer_id": "c1", "feature_id": "nope"}
        assert failure(post(fake, "balances.track", body)) == (
            404,
            "feature_not_found",
            "Feature nope not found",
        )

    def test_unknown_event_name(self, fake: AutumnFake) -> None:
        """An event name nobody listens to is 404 invalid_request, as Autumn."""
        body = {"customer_id": "c1", "event_name": "nobody"}
        assert failure(post(fake, "balances.track", body)) == (
            404,
            "invalid_request",
            "No features found for event name: nobody",
        )

    def test_duplicate_lock(self, fake: AutumnFake) -> None:
        """Reusing a held lock_id is 409 lock_already_exists and deducts nothing."""
        fake.ledger.create("c1", "messages", included=10)
        body = {
            "customer_id": "c1",
            "feature_id": "messages",
            "required_balance": 2,
            "lock": {"lock_id": "L1", "enabled": True},
        }
        assert post(fake, "balances.check", body).status_code == 200
        assert failure(post(fake, "balances.check", body))[:2] == (409, "lock_already_exists")
        assert fake.ledger.balance("c1", "messages").remaining == 8

    def test_duplicate_feature(self, fake: AutumnFake) -> None:
        """Creating a feature twice is 409 duplicate_feature_id."""
        body = {"feature_id": "messages", "name": "M", "type": "metered"}
        assert failure(post(fake, "features.create", body)) == (
            409,
            "duplicate_feature_id",
            "Feature messages already exists",
        )

    def test_finalize_unknown_lock(self, fake: AutumnFake) -> None:
        """Finalizing a lock that does not exist is 400 invalid_request."""
        body = {"lock_id": "L9", "action": "confirm"}
        assert failure(post(fake, "balances.finalize", body)) == (
            400,
            "invalid_request",
            "Lock not found for ID: L9",
        )


class TestValidation:
    """Malformed bodies are 400 invalid_inputs naming the field; floats for ms are fine."""

    def test_malformed_json(self, fake: AutumnFake) -> None:
        """A body that is not JSON is 400 invalid_inputs about the body."""
        status, code, message = failure(post(fake, "balances.check", b"{not json"))
        assert (status, code) == (400, "invalid_inputs")
        assert message.startswith("body: is not valid JSON")

    def test_nan_token(self, fake: AutumnFake) -> None:
        """NaN and Infinity tokens are refused."""
        body = b'{"customer_id":"c1","feature_id":"messages","value":NaN}'
        assert failure(post(fake, "balances.track", body))[:2] == (400, "invalid_inputs")

    def test_not_an_object(self, fake: AutumnFake) -> None:
        """An array where an object is expected is refused."""
        assert failure(post(fake, "balances.check", [1])) == (
            400,
            "invalid_inputs",
            "body: expected an object, received array",
        )

    @pytest.mark.parametrize(
        ("operation", "body", "message"),
        [
            ("balances.check", {"feature_id": "messages"}, "customer_id: Required"),
            (
                "balances.track",
                {"customer_id": "c1", "feature_id": "messages", "value": "3"},
                "value: must be a number (received string)",
            ),
            (
                "balances.track",
                {"customer_id": "c1", "feature_id": "messages", "value": True},
                "value: must be a number (received boolean)",
            ),
            (
                "balances.track",
                {"customer_id": "c1"},
                "input: Either feature_id or event_name must be provided",
            ),
            (
                "balances.track",
                {"customer_id": "c1", "feature_id": "messages", "event_name": "chat"},
                "input: Either feature_id or event_name must be provided",
            ),
            (
                "balances.check",
                {
                    "customer_id": "c1",
                    "feature_id": "messages",
                    "lock": {"lock_id": "L", "enabled": True, "expires_at": "soon"},
                },
                "lock.expires_at: must be a number (received string)",
            ),
            (
                "balances.check",
                {"customer_id": "c1", "feature_id": "messages", "lock": {"lock_id": "L"}},
                "lock.enabled: Invalid literal value, expected true",
            ),
            (
                "balances.batch_track",
                [{"customer_id": "c1", "feature_id": "messages"}, {"feature_id": "messages"}],
                "1.customer_id: Required",
            ),
            ("balances.batch_track", [], "body: must hold 1 to 1000 items, received 0"),
            (
                "balances.create",
                {"customer_id": "c1", "feature_id": "messages", "reset": {"interval": "fortnight"}},
                "reset.interval: expected one of 'one_off' | 'minute' | 'hour' | 'day' | 'week' "
                "| 'month' | 'quarter' | 'semi_annual' | 'year', received 'fortnight'",
            ),
            (
                "balances.finalize",
                {"lock_id": "L", "action": "release", "override_value": 2},
                "override_value: override_value cannot be provided when action is release",
            ),
            ("balances.list", {"limit": 500}, "limit: must be at most 200, got 500"),
            (
                "events.list",
                {"custom_range": {"start": "x"}},
                "custom_range.start: must be a number (received string)",
            ),
            (
                "customers.get",
                {"customer_id": 7},
                "customer_id: must be a string (received number)",
            ),
            ("features.create", {"feature_id": "x", "name": "X", "type": "gauge"}, None),
        ],
    )
    def test_field_is_named(
        self, fake: AutumnFake, operation: str, body: Any, message: str | None
    ) -> None:
        """Each malformed field gives 400 invalid_inputs with the field's path."""
        status, code, got = failure(post(fake, operation, body))
        assert (status, code) == (400, "invalid_inputs")
        if message is not None:
            assert got == message

    def test_float_milliseconds(self, fake: AutumnFake) -> None:
        """Millisecond instants sent as floats (with a fraction even) are taken as whole ms."""
        fake.ledger.create("c1", "messages", included=10)
        now = fake.clock()
        body = {
            "customer_id": "c1",
            "feature_id": "messages",
            "lock": {"lock_id": "L1", "enabled": True, "expires_at": now + 60_000.7},
        }
        assert post(fake, "balances.check", body).status_code == 200
        fake.advance(seconds=60)
        assert fake.ledger.balance("c1", "messages").remaining == 10  # released at the instant

    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(
        operation=st.sampled_from(sorted(ROUTES)),
        body=st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**60), 2**60)
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.sampled_from(["c1", "messages", "pro", "credits", "L1", "month", "", "x"]),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "customer_id",
                            "feature_id",
                            "entity_id",
                            "event_name",
                            "value",
                            "required_balance",
                            "lock",
                            "lock_id",
                            "enabled",
                            "expires_at",
                            "included_grant",
                            "reset",
                            "interval",
                            "rollover",
                            "limit",
                            "start_cursor",
                            "action",
                            "timestamp",
                            "type",
                            "name",
                            "credit_schema",
                            "billing_controls",
                            "usage_limits",
                            "usage_alerts",
                            "spend_limits",
                            "auto_topups",
                            "filter",
                            "properties",
                            "basis",
                            "metadata",
                            "customer_data",
                            "new_customer_id",
                        ]
                    ),
                    inner,
                    max_size=6,
                )
            ),
            max_leaves=12,
        ),
    )
    def test_no_5xx_for_any_body(self, fake: AutumnFake, operation: str, body: Any) -> None:
        """Whatever JSON arrives, the answer is a 200 or a well-formed 4xx, never a raise."""
        status, payload = fake.transport.answer("POST", f"/v1/{operation}", encode(body), {})
        assert status == 200 or (400 <= status < 500 and set(payload) == {"message", "code", "env"})
        encode(payload)


class TestIdempotency:
    """The Idempotency-Key header on any call, and track's body key: 409 on a repeat in 24 h."""

    def test_repeat_is_409(self, fake: AutumnFake, api_error: Any) -> None:
        """A second create with the same key is refused and grants nothing."""
        kwargs = {"customer_id": "c1", "feature_id": "messages", "included_grant": 5}
        fake.autumn.balances.create(**kwargs, http_headers={"Idempotency-Key": "k1"})
        with pytest.raises(errors.AutumnDefaultError) as info:
            fake.autumn.balances.create(**kwargs, http_headers={"Idempotency-Key": "k1"})
        status, body = api_error(info)
        assert (status, body["code"]) == (409, "duplicate_idempotency_key")
        assert (
            body["message"] == "Another request with idempotency key k1 has already been received"
        )
        assert fake.ledger.balance("c1", "messages").granted == 5

    def test_any_route(self, fake: AutumnFake, api_error: Any) -> None:
        """Even a read (check) claims the key, on the async client too."""
        fake.ledger.create("c1", "messages", included=5)
        headers = {"Idempotency-Key": "k2"}
        fake.autumn.check(customer_id="c1", feature_id="messages", http_headers=headers)
        with pytest.raises(errors.AutumnDefaultError) as info:
            asyncio.run(
                fake.autumn.check_async(
                    customer_id="c1", feature_id="messages", http_headers=headers
                )
            )
        assert api_error(info)[0] == 409

    def test_window_is_24_hours(self, fake: AutumnFake) -> None:
        """After 24 hours of clock time the key may be used again."""
        fake.ledger.create("c1", "messages", included=5)
        headers = {"Idempotency-Key": "k3"}
        fake.autumn.track(customer_id="c1", feature_id="messages", http_headers=headers)
        fake.advance(hours=23, minutes=59)
        with pytest.raises(errors.AutumnDefaultError):
            fake.autumn.track(customer_id="c1", feature_id="messages", http_headers=headers)
        fake.advance(minutes=1)
        fake.autumn.track(customer_id="c1", feature_id="messages", http_headers=headers)
        assert fake.ledger.balance("c1", "messages").usage == 2

    def test_failed_request_frees_the_key(self, fake: AutumnFake, api_error: Any) -> None:
        """A request that failed may be retried with its key and fails the same way, not 409."""
        headers = {"Idempotency-Key": "k4"}
        for _ in range(2):
            with pytest.raises(errors.AutumnDefaultError) as info:
                fake.autumn.track(customer_id="c9", feature_id="messages", http_headers=headers)
            assert api_error(info)[1]["code"] == "customer_not_found"

    def test_header_and_body_keys_are_separate(self, fake: AutumnFake) -> None:
        """The same string as header key and as batch item key are two claims, as in Autumn."""
        fake.ledger.create("c1", "messages", included=5)
        response = post(
            fake,
            "balances.track",
            {"customer_id": "c1", "feature_id": "messages"},
            **{"Idempotency-Key": "same"},
        )
        assert response.status_code == 200
        item = {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "same"}
        fake.autumn.batch_track(request=[item])
        assert fake.ledger.balance("c1", "messages").usage == 2

    def test_track_body_key(self, fake: AutumnFake) -> None:
        """A track body's idempotency_key is claimed too: the repeat is 409 and deducts nothing."""
        fake.ledger.create("c1", "messages", included=5)
        body = {"customer_id": "c1", "feature_id": "messages", "idempotency_key": "t1"}
        assert post(fake, "balances.track", body).status_code == 200
        assert failure(post(fake, "balances.track", body)) == (
            409,
            "duplicate_idempotency_key",
            "Another request with idempotency key t1 has already been received",
        )
        assert fake.ledger.balance("c1", "messages").usage == 1
