"""The answer to `GET` and `HEAD /v1/verify`, written once for both routes that give it: the fast
path in front of the framework (`web/fastverify.py`) and the framework route (`web/api/proxy.py`).

200 with the identity headers and an empty body; 401 `unauthenticated` or `ambiguous_credentials`;
503 `service_unavailable` with `Retry-After` when the database does not answer. Every answer is
`Cache-Control: no-store`, so no proxy keeps a verdict. Each one is counted once in
`frontdesk_verifications_total`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from frontdesk.metrics import VERIFICATIONS
from frontdesk.service.context import Principal
from frontdesk.web.authn import Caller, Refused
from frontdesk.web.errors import UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_AFTER, ErrorCode, Unauthenticated

RawHeaders = list[tuple[bytes, bytes]]

_ALLOWED = VERIFICATIONS.labels("allowed")
_DENIED = VERIFICATIONS.labels("denied")
_AMBIGUOUS = VERIFICATIONS.labels("ambiguous")
_UNAVAILABLE = VERIFICATIONS.labels("unavailable")
_COMMON: RawHeaders = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]


class DatabaseUnavailable:
    """The verdict when the database did not answer."""


UNAVAILABLE: Final = DatabaseUnavailable()


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole HTTP answer: status, raw ASGI headers and body."""

    status: int
    headers: RawHeaders
    body: bytes


def _error(status: int, code: ErrorCode, message: str, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Answer:
    # the shape and encoding of errors.error_response (Starlette's JSONResponse)
    body = json.dumps(
        {"error": {"code": code.value, "message": message}}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return Answer(status, [*headers, *_COMMON, *extra], body)


_UNAUTHENTICATED = _error(401, ErrorCode.UNAUTHENTICATED, str(Unauthenticated()))
_SERVICE_UNAVAILABLE = _error(
    503,
    ErrorCode.SERVICE_UNAVAILABLE,
    UNAVAILABLE_MESSAGE,
    ((b"retry-after", str(UNAVAILABLE_RETRY_AFTER).encode()),),
)
_REFUSALS: dict[str, Answer] = {}


def verify_answer(verdict: Caller | DatabaseUnavailable) -> Answer:
    """The answer for a verdict of `authn.identify` / `identify_fast`, or `UNAVAILABLE`."""
    if isinstance(verdict, Principal):
        _ALLOWED.inc()
        headers = [
            (b"x-frontdesk-user-id", str(verdict.user_id).encode()),
            (b"x-frontdesk-username", verdict.username.encode()),
            (b"x-frontdesk-session-id", str(verdict.session_id).encode()),
            (b"content-length", b"0"),
            *_COMMON,
        ]
        return Answer(200, headers, b"")
    if verdict is None:
        _DENIED.inc()
        return _UNAUTHENTICATED
    if isinstance(verdict, Refused):
        _AMBIGUOUS.inc()
        answer = _REFUSALS.get(verdict.message)
        if answer is None:
            answer = _REFUSALS[verdict.message] = _error(401, ErrorCode.AMBIGUOUS_CREDENTIALS, verdict.message)
        return answer
    _UNAVAILABLE.inc()
    return _SERVICE_UNAVAILABLE
