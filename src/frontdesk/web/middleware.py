"""Pure ASGI middleware: body limits, the CSRF origin check, `nosniff`, and request metrics.

Pure ASGI (no BaseHTTPMiddleware) keeps the per-request cost small on the hot path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from frontdesk.metrics import LATENCY, REQUESTS
from frontdesk.web.authn import has_session_cookie
from frontdesk.web.errors import ErrorCode

MAX_BODY_BYTES = 64 * 1024
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


NOSNIFF = (b"x-content-type-options", b"nosniff")


async def send_error(send: Send, status: int, code: ErrorCode, message: str) -> None:
    body = json.dumps({"error": {"code": code.value, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                NOSNIFF,
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


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    # browsers leave a default port out of Origin; a configured URL may spell it out
    default = DEFAULT_PORTS.get(parts.scheme.lower())
    return origin.removesuffix(default) if default else origin


class CsrfMiddleware:
    """Contract section 4: an unsafe request with the session cookie must come from an allowed
    origin (Origin, else Referer, or `Sec-Fetch-Site: same-origin`); a foreign Origin is refused
    even without a cookie (login CSRF). Requests that carry only a bearer token are exempt."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = {o for o in (_origin_of(x) for x in allowed_origins) if o}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS and not self._passes(scope):
            await send_error(send, 403, ErrorCode.CSRF_FAILED, "This request did not come from an allowed origin.")
            return
        await self.app(scope, receive, send)

    def _passes(self, scope: Scope) -> bool:
        # read as the authenticator reads it: every Cookie header, parsed (not a substring test)
        has_cookie = has_session_cookie(scope["headers"])
        headers = Headers(scope=scope)
        if "authorization" in headers and not has_cookie:
            return True
        origin_header = headers.get("origin")
        if origin_header is not None:
            return _origin_of(origin_header) in self.allowed
        referer = headers.get("referer")
        if referer is not None and _origin_of(referer) is not None:
            return _origin_of(referer) in self.allowed
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
