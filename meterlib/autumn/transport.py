"""AutumnTransport: an httpx transport that answers Autumn's API from a Ledger, in-process.

```python
t = AutumnTransport(ledger)
autumn = Autumn(secret_key="am_sk_test", client=httpx.Client(transport=t),
                async_client=httpx.AsyncClient(transport=t), fail_open=False)
```

Every request is `POST .../v1/<resource>.<action>`; the host and any path prefix are ignored.
Answers are 200 `application/json` in Autumn's shapes, or 4xx `{"message", "code", "env"}`.
A bad request is never a 5xx: on `check` and `track` the SDK turns a 5xx into `allowed=True`.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

import httpx

from meterlib import shapes
from meterlib.autumn.call import Call
from meterlib.autumn.routes import ROUTES, status_and_code
from meterlib.autumn.wire import encode, parse_json
from meterlib.clock import read_clock
from meterlib.errors import MeterError

if TYPE_CHECKING:
    from meterlib.ledger import Ledger

_OPERATION = re.compile(r"/v1/([a-z_]+(?:[./][a-z_]+)?)/?$")
_ALIASES = {
    "check": "balances.check",
    "track": "balances.track",
    "events": "balances.track",
    "events/aggregate": "events.aggregate",
}
_JSON = {"content-type": "application/json"}


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, shapes.error(message, code)


class AutumnTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Serves the Autumn API from `ledger` to httpx clients, sync and async, without a socket.

    "Now" is the ledger's clock; an `Idempotency-Key` header is claimed in the ledger for 24 h
    (`Ledger.claim_idempotency_key`), so a repeat is a 409 whichever transport carries it.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request from the ledger (httpx's sync entry point)."""
        request.read()
        return self._respond(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request from the ledger (httpx's async entry point; the work is sync)."""
        await request.aread()
        return self._respond(request)

    def _respond(self, request: httpx.Request) -> httpx.Response:
        status, payload = self.answer(
            request.method, request.url.path, request.content, request.headers
        )
        return httpx.Response(status, headers=_JSON, content=encode(payload), request=request)

    def answer(
        self, method: str, path: str, content: bytes, headers: httpx.Headers | dict[str, str]
    ) -> tuple[int, Any]:
        """The status and JSON payload for one request, without httpx objects around them.

        Whatever the request holds, the answer is a response: a caller's mistake is a 4xx and
        a `StoreError` a 500. A bug (an exception that is no `MeterError`) is not turned into
        a 5xx: it propagates, as the SDK would otherwise fail open and allow on `check`.
        """
        match = _OPERATION.search(path)
        operation = match.group(1) if match else ""
        operation = _ALIASES.get(operation, operation)
        handler = ROUTES.get(operation)
        if handler is None:
            return _error(
                404, "not_found", f"{method} {path} is not an Autumn route meterlib serves"
            )
        if method.upper() != "POST":
            return _error(405, "method_not_allowed", f"{path} takes POST, not {method}")
        given = httpx.Headers(headers)
        key = given.get("idempotency-key")
        try:
            call = Call(
                ledger=self.ledger,
                body=parse_json(content),
                now=read_clock(self.ledger.clock),
                api_version=given.get("x-api-version"),
            )
            if key:
                self.ledger.claim_idempotency_key(key)
        except MeterError as exc:
            status, code = status_and_code(exc, None)
            return _error(status, code, str(exc))
        try:
            return 200, handler(call)
        except MeterError as exc:
            status, code = status_and_code(exc, call.subject)
            if key and status != 409:
                # as Autumn: a failed request frees its key, so a retry runs (and fails) again
                with contextlib.suppress(MeterError):
                    self.ledger.release_idempotency_key(key)
            return _error(status, code, str(exc))
        except Exception:
            if key:
                with contextlib.suppress(Exception):
                    self.ledger.release_idempotency_key(key)
            raise
