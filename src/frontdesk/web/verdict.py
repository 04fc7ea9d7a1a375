"""The answer to `GET` and `HEAD /v1/verify`, written once for both routes that give it: the fast
path in front of the framework (`web/fastverify.py`) and the framework route (`web/api/proxy.py`).

200 with the identity headers (user, session, `X-Frontdesk-AAL`, `X-Frontdesk-Auth-Time`) and an
empty body; 401 `unauthenticated` or `ambiguous_credentials`; 503 `service_unavailable` with
`Retry-After` when the database does not answer. Every answer is `Cache-Control: no-store`, so no
proxy keeps a verdict. Each one is counted once in `frontdesk_verifications_total`.

Step-up (contract section 6, RFC 9470): `?aal=2` and `?max_age=N` (seconds) demand a second
factor and a recent sign-in; a session that falls short gets 401 `insufficient_user_authentication`
with `WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values="aal2",
max_age=N` (naming what was demanded). A bad value of either is 400 `invalid_request`, answered
before any lookup. Other query parameters are ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from urllib.parse import parse_qsl

from frontdesk.clock import Clock
from frontdesk.errors import InsufficientAuthentication
from frontdesk.metrics import VERIFICATIONS
from frontdesk.service.context import Principal
from frontdesk.service.freshness import satisfies
from frontdesk.web.authn import Caller, Refused
from frontdesk.web.errors import (
    UNAVAILABLE_MESSAGE,
    UNAVAILABLE_RETRY_AFTER,
    ErrorCode,
    Unauthenticated,
    step_up_challenge,
)

RawHeaders = list[tuple[bytes, bytes]]

_ALLOWED = VERIFICATIONS.labels("allowed")
_DENIED = VERIFICATIONS.labels("denied")
_AMBIGUOUS = VERIFICATIONS.labels("ambiguous")
_UNAVAILABLE = VERIFICATIONS.labels("unavailable")
_INSUFFICIENT = VERIFICATIONS.labels("insufficient")
_INVALID = VERIFICATIONS.labels("invalid")
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


@dataclass(frozen=True, slots=True)
class Demand:
    """What a verification asks beyond a valid session: an assurance level, a recent sign-in (seconds)."""

    aal: int | None = None
    max_age: int | None = None


NO_DEMAND: Final = Demand()
_MAX_AGE_DIGITS = 10  # up to ~317 years: anything a proxy could mean, and never a huge int to parse
_BAD_AAL = _error(400, ErrorCode.INVALID_REQUEST, "aal must be 1 or 2, given once.")
_BAD_MAX_AGE = _error(400, ErrorCode.INVALID_REQUEST, "max_age must be a whole number of seconds, given once.")
_BAD_QUERY = _error(400, ErrorCode.INVALID_REQUEST, "The query string can't be read.")


def read_demand(query: bytes) -> Demand | Answer:
    """The step-up demands in a verification's query string (`aal`, `max_age`), or the 400 answer
    for a bad value. An empty query (the usual case) costs one test."""
    if not query:
        return NO_DEMAND
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, max_num_fields=20)
    except ValueError:
        return _BAD_QUERY
    aal = [v for k, v in pairs if k == "aal"]
    max_age = [v for k, v in pairs if k == "max_age"]
    if len(aal) > 1 or (aal and aal[0] not in ("1", "2")):
        return _BAD_AAL
    if len(max_age) > 1 or (max_age and not _seconds(max_age[0])):
        return _BAD_MAX_AGE
    wanted_aal = 2 if aal == ["2"] else None
    wanted_age = int(max_age[0]) if max_age else None
    return NO_DEMAND if wanted_aal is None and wanted_age is None else Demand(wanted_aal, wanted_age)


def _seconds(text: str) -> bool:
    return 0 < len(text) <= _MAX_AGE_DIGITS and text.isascii() and text.isdigit()


def _insufficient(demand: Demand) -> Answer:
    _INSUFFICIENT.inc()
    refusal = InsufficientAuthentication(aal=demand.aal, max_age=demand.max_age)
    challenge = step_up_challenge(demand.aal, demand.max_age).encode()
    return _error(401, ErrorCode.INSUFFICIENT_USER_AUTHENTICATION, str(refusal), ((b"www-authenticate", challenge),))


def bad_demand(answer: Answer) -> Answer:
    """A `read_demand` refusal, counted."""
    _INVALID.inc()
    return answer


def verify_answer(verdict: Caller | DatabaseUnavailable, demand: Demand, clock: Clock) -> Answer:
    """The answer for a verdict of `authn.identify` / `identify_fast`, or `UNAVAILABLE`, given what
    the verification demands (`read_demand`)."""
    if isinstance(verdict, Principal):
        if demand is not NO_DEMAND:
            max_age = None if demand.max_age is None else timedelta(seconds=demand.max_age)
            if not satisfies(verdict, clock.now(), aal=demand.aal, max_age=max_age):
                return _insufficient(demand)
        _ALLOWED.inc()
        headers = [
            (b"x-frontdesk-user-id", str(verdict.user_id).encode()),
            (b"x-frontdesk-username", verdict.username.encode()),
            (b"x-frontdesk-session-id", str(verdict.session_id).encode()),
            (b"x-frontdesk-aal", b"2" if verdict.aal >= 2 else b"1"),
            (b"x-frontdesk-auth-time", str(int(verdict.authenticated_at.timestamp())).encode()),
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
