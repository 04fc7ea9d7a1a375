"""`GET /v1/verify`: the reverse proxies' "is this request signed in?" (the hot path)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from frontdesk.metrics import VERIFICATIONS
from frontdesk.web.deps import FD, Access, access, find_principal
from frontdesk.web.errors import AmbiguousCredentials, Unauthenticated, responses
from frontdesk.web.errors import ErrorCode as C

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
    try:
        principal = find_principal(fd, request)
    except AmbiguousCredentials:
        VERIFICATIONS.labels("ambiguous").inc()
        raise
    if principal is None:
        VERIFICATIONS.labels("denied").inc()
        raise Unauthenticated()
    VERIFICATIONS.labels("allowed").inc()
    return Response(
        status_code=200,
        headers={
            "X-Frontdesk-User-Id": str(principal.user_id),
            "X-Frontdesk-Username": principal.username,
            "X-Frontdesk-Session-Id": str(principal.session_id),
            "Cache-Control": "no-store",
        },
    )
