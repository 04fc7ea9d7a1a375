"""`GET /v1/verify` on PostgreSQL without the framework: a pure ASGI shortcut in front of the app.

Every reverse-proxied request of every app behind frontdesk passes here, so it skips FastAPI's
routing and dependency injection and the thread pool: it parses the credential with the same code
as every other route, runs the one prepared statement on an asyncpg pool, records the use in the
touch buffer, and answers. The documented route in `api/proxy.py` still describes it in the
OpenAPI document and serves SQLite, where there is no async driver.
"""

from __future__ import annotations

import logging
import time

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from frontdesk.availability import DATABASE_OUTAGE
from frontdesk.metrics import LATENCY, REQUESTS, VERIFICATIONS
from frontdesk.service.runtime import Frontdesk
from frontdesk.service.sessions import DATABASE_UNAVAILABLE, authenticate_fast
from frontdesk.web.credentials import read_credential
from frontdesk.web.errors import AmbiguousCredentials
from frontdesk.web.middleware import send_error

log = logging.getLogger(__name__)

VERIFY_PATH = "/v1/verify"
_ALLOWED = VERIFICATIONS.labels("allowed")
_DENIED = VERIFICATIONS.labels("denied")
_AMBIGUOUS = VERIFICATIONS.labels("ambiguous")
_UNAVAILABLE = VERIFICATIONS.labels("unavailable")
# the same per-route series MetricsMiddleware keeps for every other route, bound once
_LATENCY = LATENCY.labels(VERIFY_PATH)
_REQUESTS = {status: REQUESTS.labels(VERIFY_PATH, "GET", str(status)) for status in (200, 401, 503)}


class VerifyFastPath:
    """Answer `GET /v1/verify` directly; pass everything else to the app."""

    def __init__(self, app: ASGIApp, frontdesk: Frontdesk) -> None:
        assert frontdesk.verify_lookup is not None, "the fast path needs PostgreSQL"
        self.app = app
        self.lookup = frontdesk.verify_lookup
        self.deps = frontdesk.deps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == VERIFY_PATH and scope["method"] in ("GET", "HEAD"):
            started = time.perf_counter()
            status = await self.verify(scope, send)
            _REQUESTS[status].inc()
            _LATENCY.observe(time.perf_counter() - started)
            return
        await self.app(scope, receive, send)

    async def verify(self, scope: Scope, send: Send) -> int:
        """Answer one verification; returns the status sent."""
        try:
            credential = read_credential(HTTPConnection(scope))
        except AmbiguousCredentials as exc:
            _AMBIGUOUS.inc()
            await send_error(send, 401, "ambiguous_credentials", str(exc))
            return 401
        principal = None
        if credential is not None and credential.token:
            try:
                principal = await authenticate_fast(
                    self.lookup, self.deps, credential.token, is_api_key=credential.is_api_key
                )
            except DATABASE_UNAVAILABLE as exc:
                _UNAVAILABLE.inc()
                DATABASE_OUTAGE.failed(exc, "/v1/verify")
                await send_error(send, 503, "service_unavailable", "The service is briefly unavailable.")
                return 503
        if principal is None:
            _DENIED.inc()
            await send_error(send, 401, "unauthenticated", "Sign in first.")
            return 401
        _ALLOWED.inc()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"x-frontdesk-user-id", str(principal.user_id).encode()),
                    (b"x-frontdesk-username", principal.username.encode()),
                    (b"x-frontdesk-session-id", str(principal.session_id).encode()),
                    (b"cache-control", b"no-store"),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return 200
