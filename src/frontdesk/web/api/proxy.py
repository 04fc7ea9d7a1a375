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
from frontdesk.web.verdict import UNAVAILABLE, DatabaseUnavailable, verify_answer

router = APIRouter(prefix="/v1", tags=["proxy"])


@router.get(
    "/verify",
    response_class=Response,
    responses={
        200: {
            "description": "Signed in. The identity is in the headers X-Frontdesk-User-Id, "
            "X-Frontdesk-Username and X-Frontdesk-Session-Id; the body is empty.",
            "content": {},
        },
        **responses(C.UNAUTHENTICATED, C.AMBIGUOUS_CREDENTIALS),
    },
)
@access(Access.PROXY)
def verify(request: Request, fd: FD) -> Response:
    """200 with identity headers when the cookie or bearer token is valid (and counts the use), else 401."""
    verdict: Caller | DatabaseUnavailable
    try:
        verdict = identify(fd, request.scope["headers"])
    except DATABASE_ERRORS as exc:
        DATABASE_OUTAGE.failed(exc, "/v1/verify")
        verdict = UNAVAILABLE
    answer = verify_answer(verdict)
    response = Response(status_code=answer.status, content=answer.body)
    response.raw_headers = list(answer.headers)
    return response


# HEAD answers as GET (as on the fast path); the document describes GET only
router.add_api_route("/verify", verify, methods=["HEAD"], response_class=Response, include_in_schema=False)
