"""`GET`/`HEAD /v1/verify` on PostgreSQL without the framework: a pure ASGI shortcut in front of the app.

Every reverse-proxied request of every app behind frontdesk passes here, so it skips FastAPI's
routing and dependency injection and the thread pool: it decides who is calling with the one
authenticator (`authn.identify_fast`: the same reading and rule as every other route, the lookup
on the asyncpg connections), records the use in the touch buffer, and writes the one verify answer
(`verdict.verify_answer`, shared with the framework route). The documented route in
`api/proxy.py` still describes it in the OpenAPI document and serves SQLite, where there is no
async driver, or PostgreSQL with `FRONTDESK_VERIFY_CONNECTIONS=0`.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from frontdesk.availability import DATABASE_OUTAGE
from frontdesk.metrics import LATENCY, REQUESTS
from frontdesk.runtime import Frontdesk
from frontdesk.service.fastpath import DATABASE_UNAVAILABLE
from frontdesk.web.authn import Caller, identify_fast
from frontdesk.web.verdict import UNAVAILABLE, Answer, DatabaseUnavailable, bad_demand, read_demand, verify_answer

VERIFY_PATH = "/v1/verify"
METHODS = ("GET", "HEAD")
# the same per-route series MetricsMiddleware keeps for every other route, bound once
_LATENCY = LATENCY.labels(VERIFY_PATH)
_REQUESTS = {(m, s): REQUESTS.labels(VERIFY_PATH, m, str(s)) for m in METHODS for s in (200, 400, 401, 503)}


class VerifyFastPath:
    """Answer `GET`/`HEAD /v1/verify` directly; pass everything else to the app."""

    def __init__(self, app: ASGIApp, frontdesk: Frontdesk) -> None:
        if frontdesk.verify_lookup is None:
            raise ValueError("the verify fast path needs PostgreSQL (Frontdesk.verify_lookup)")
        self.app = app
        self.fd = frontdesk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == VERIFY_PATH and scope["method"] in METHODS:
            started = time.perf_counter()
            status = await self.verify(scope, send)
            _REQUESTS[scope["method"], status].inc()
            _LATENCY.observe(time.perf_counter() - started)
            return
        await self.app(scope, receive, send)

    async def verify(self, scope: Scope, send: Send) -> int:
        """Answer one verification; returns the status sent."""
        demand = read_demand(scope["query_string"])
        if isinstance(demand, Answer):
            answer = bad_demand(demand)
        else:
            verdict: Caller | DatabaseUnavailable
            try:
                verdict = await identify_fast(self.fd, scope["headers"])
            except DATABASE_UNAVAILABLE as exc:
                DATABASE_OUTAGE.failed(exc, "/v1/verify")
                verdict = UNAVAILABLE
            answer = verify_answer(verdict, demand, self.fd.deps.clock)
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body})
        return answer.status
