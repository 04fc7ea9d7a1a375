"""`GET`/`HEAD /v1/verify`: the reverse proxies' "is this request signed in?" (the hot path).

On PostgreSQL `frontdesk serve` answers it in front of the framework (`web/fastverify.py`); this
route describes it in the OpenAPI document and answers it on SQLite. Both write the same answer
(`web/verdict.py`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from frontdesk.availability import DATABASE_OUTAGE
from frontdesk.web.authn import Caller, identify
from frontdesk.web.deps import FD, Access, access
from frontdesk.web.errors import DATABASE_ERRORS, responses
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.verdict import UNAVAILABLE, Answer, DatabaseUnavailable, bad_demand, read_demand, verify_answer

router = APIRouter(prefix="/v1", tags=["proxy"])


@router.get(
    "/verify",
    response_class=Response,
    responses={
        200: {
            "description": "Signed in. The identity is in the headers X-Frontdesk-User-Id, "
            "X-Frontdesk-Username and X-Frontdesk-Session-Id, how strongly and when the session was "
            "signed in in X-Frontdesk-AAL (1 or 2) and X-Frontdesk-Auth-Time (Unix seconds); the body is empty.",
            "headers": {
                "X-Frontdesk-User-Id": {"schema": {"type": "integer"}},
                "X-Frontdesk-Username": {"schema": {"type": "string"}},
                "X-Frontdesk-Session-Id": {"schema": {"type": "integer"}},
                "X-Frontdesk-AAL": {"schema": {"type": "integer", "enum": [1, 2]}},
                "X-Frontdesk-Auth-Time": {"schema": {"type": "integer"}},
            },
            "content": {},
        },
        **responses(C.UNAUTHENTICATED, C.AMBIGUOUS_CREDENTIALS, C.INSUFFICIENT_USER_AUTHENTICATION),
    },
    openapi_extra={
        "parameters": [
            {
                "name": "aal",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "enum": [1, 2]},
                "description": "2: the session must have a second factor (or a passkey), else 401 with "
                'WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values="aal2".',
            },
            {
                "name": "max_age",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 0, "maximum": 9999999999},
                "description": "A factor must have been proved in the session within this many seconds, "
                'else 401 with WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=N.',
            },
        ]
    },
)
@access(Access.PROXY)
def verify(request: Request, fd: FD) -> Response:
    """200 with identity headers when the cookie or bearer token is valid (and counts the use), else 401;
    `?aal=2` and `?max_age=N` demand a step-up (RFC 9470)."""
    demand = read_demand(request.scope["query_string"])
    if isinstance(demand, Answer):
        answer = bad_demand(demand)
    else:
        verdict: Caller | DatabaseUnavailable
        try:
            verdict = identify(fd, request.scope["headers"])
        except DATABASE_ERRORS as exc:
            DATABASE_OUTAGE.failed(exc, "/v1/verify")
            verdict = UNAVAILABLE
        answer = verify_answer(verdict, demand, fd.deps.clock)
    response = Response(status_code=answer.status, content=answer.body)
    response.raw_headers = list(answer.headers)
    return response


# HEAD answers as GET (as on the fast path); the document describes GET only
router.add_api_route("/verify", verify, methods=["HEAD"], response_class=Response, include_in_schema=False)
