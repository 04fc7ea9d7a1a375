"""Pure ASGI middleware: body limits, the CSRF origin check, `nosniff`, and request metrics.

Pure ASGI (no BaseHTTPMiddleware) keeps the per-request cost small on the hot path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterable, Mapping

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.metrics import LATENCY, REQUESTS
from frontdesk.origins import origin_of
from frontdesk.runtime import Frontdesk
from frontdesk.service import signup
from frontdesk.web.authn import has_session_cookie
from frontdesk.web.credentials import RequestInfo
from frontdesk.web.errors import ErrorCode, code_for, headers_for, status_for

MAX_BODY_BYTES = 64 * 1024
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = logging.getLogger(__name__)


NOSNIFF = (b"x-content-type-options", b"nosniff")


async def send_error(
    send: Send, status: int, code: ErrorCode, message: str, headers: Mapping[str, str] | None = None
) -> None:
    body = json.dumps({"error": {"code": code.value, "message": message}}).encode()
    extra = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                NOSNIFF,
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse bodies over 64 KiB with 413 `payload_too_large`, whether declared or streamed, and
    JSON bodies that are not UTF-8 with 400 `invalid_request` (the JSON parser would otherwise
    guess UTF-16 or UTF-32 from the bytes and accept them)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or len(length) > 12:
                await send_error(send, 400, ErrorCode.INVALID_REQUEST, "Content-Length is not valid.")
                return
            if int(length) > self.limit:
                await self._drain(receive)
                await send_error(
                    send, 413, ErrorCode.PAYLOAD_TOO_LARGE, f"Request bodies are limited to {self.limit} bytes."
                )
                return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await send_error(
                    send, 413, ErrorCode.PAYLOAD_TOO_LARGE, f"Request bodies are limited to {self.limit} bytes."
                )
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and _is_json(headers.get("content-type", "")) and not _is_utf8(body):
            await send_error(send, 400, ErrorCode.INVALID_REQUEST, "JSON bodies must be UTF-8.")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _drain(self, receive: Receive) -> None:
        """Read a bounded amount of the refused body so the client sees the answer, not a reset."""
        read = 0
        while read <= self.limit * 4:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            read += len(message.get("body", b""))


def _is_json(content_type: str) -> bool:
    """As FastAPI decides to parse a body as JSON (a missing type may count, depending on its settings)."""
    media_type = content_type.partition(";")[0].strip().lower()
    return not media_type or media_type == "application/json" or media_type.endswith("+json")


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class CsrfMiddleware:
    """Contract section 4: an unsafe request with the session cookie must come from an allowed
    origin (Origin, else Referer, or `Sec-Fetch-Site: same-origin`); a foreign Origin is refused
    even without a cookie (login CSRF). Requests that carry only a bearer token are exempt.

    The refusal names the public URL's origin, and the first refusal and the first unsafe request
    whose Host is not the public URL's are logged (once each per process): a public URL that
    disagrees with where the server is reached is the usual cause.

    `exempt_posts`: exact paths whose POST comes from another site by design (the callback of a
    social sign-in provider answering with `response_mode=form_post`); they check their own state.
    """

    def __init__(
        self,
        app: ASGIApp,
        public_url: str,
        allowed_origins: Iterable[str] = (),
        exempt_posts: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.exempt_posts = frozenset(exempt_posts)
        self.public_url = public_url
        self.public_origin = origin_of(public_url) or public_url
        self.allowed = {o for o in (origin_of(x) for x in (public_url, *allowed_origins)) if o}
        self.message = (
            f"This request did not come from an allowed origin: frontdesk expects Origin {self.public_origin} "
            "(FRONTDESK_PUBLIC_URL) or one of FRONTDESK_ALLOWED_ORIGINS."
        )
        self._host_checked = False
        self._refusal_logged = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS and not self._exempt(scope):
            headers = Headers(scope=scope)
            if not self._host_checked:
                self._check_host(headers)
            if not self._passes(scope, headers):
                if not self._refusal_logged:
                    self._refusal_logged = True
                    log.warning(
                        "csrf.refused: Origin %r (Host %r) is neither FRONTDESK_PUBLIC_URL's origin %s nor an "
                        "allowed origin; further refusals are not logged",
                        (headers.get("origin") or headers.get("referer") or "")[:200],
                        (headers.get("host") or "")[:200],
                        self.public_origin,
                    )
                await send_error(send, 403, ErrorCode.CSRF_FAILED, self.message)
                return
        await self.app(scope, receive, send)

    def _exempt(self, scope: Scope) -> bool:
        return bool(self.exempt_posts) and scope["method"] == "POST" and scope["path"] in self.exempt_posts

    def _check_host(self, headers: Headers) -> None:
        host = headers.get("host")
        if host is None:
            return
        self._host_checked = True
        scheme = self.public_origin.partition("://")[0]
        if origin_of(f"{scheme}://{host}") != self.public_origin:
            log.warning(
                "public_url.mismatch: requests arrive for Host %r but FRONTDESK_PUBLIC_URL is %s: email links and "
                "the CSRF check use the public URL",
                host[:200],
                self.public_url,
            )

    def _passes(self, scope: Scope, headers: Headers) -> bool:
        # read as the authenticator reads it: every Cookie header, parsed (not a substring test)
        has_cookie = has_session_cookie(scope["headers"])
        if "authorization" in headers and not has_cookie:
            return True
        origin_header = headers.get("origin")
        if origin_header is not None:
            return origin_of(origin_header) in self.allowed
        referer = headers.get("referer")
        if referer is not None and origin_of(referer) is not None:
            return origin_of(referer) in self.allowed
        if not has_cookie:
            return True
        return headers.get("sec-fetch-site") == "same-origin"


class NoSniffMiddleware:
    """`X-Content-Type-Options: nosniff` on every response that does not set it itself, so no
    browser reads a JSON answer as a page or a script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                    message["headers"] = [*headers, NOSNIFF]
            await send(message)

        await self.app(scope, receive, add_header)


class SignupGateMiddleware:
    """Answer `POST /v1/signup` from an address this process already saw refused in this window
    with that same 429, before the framework reads the request.

    A flood of signups from one address then costs the server next to nothing per attempt (issue
    12), while the first refusal of each window is still the database's (`service/refusals.py`).
    """

    PATH = "/v1/signup"

    def __init__(self, app: ASGIApp, frontdesk: Frontdesk, request_info: RequestInfo) -> None:
        self.app = app
        self.deps = frontdesk.deps
        self.address = request_info.address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.PATH:
            refusal = signup.refused_signup(self.deps, self.address.of(HTTPConnection(scope)))
            if refusal is not None:
                await send_error(send, status_for(refusal), code_for(refusal), str(refusal), headers_for(refusal))
                return
        await self.app(scope, receive, send)


class RateLimitedDelayMiddleware:
    """Send every 429 `delay` seconds after it was decided.

    A client that floods past a limit then gets one refusal per connection per delay, so refusing it
    costs the server little and everyone else's requests stay fast (issue 12: a signup flood from one
    address). The wait is an await after the handler has finished: it holds no thread, database
    connection or lock. A client within its limits never waits.
    """

    def __init__(self, app: ASGIApp, delay: float) -> None:
        self.app = app
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.delay <= 0:
            await self.app(scope, receive, send)
            return

        async def slow_refusals(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                await asyncio.sleep(self.delay)
            await send(message)

        await self.app(scope, receive, slow_refusals)


class MetricsMiddleware:
    """Count requests and time them by route template (never by raw path, which would explode labels)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(template, scope["method"], str(status)).inc()
            LATENCY.labels(template).observe(time.perf_counter() - started)
