"""Administrator endpoints (a superuser's session; anyone else gets 403 `forbidden`)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from frontdesk.errors import NotFound
from frontdesk.service import accounts, admin, sessions
from frontdesk.web.deps import FD, Access, Admin, Ctx, access
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.errors import responses
from frontdesk.web.schemas import AdminApiKeyRequest, RevokedResponse, StatusResponse

router = APIRouter(prefix="/v1/admin/users/{user_id}", tags=["admin"])
ERRORS = responses(C.FORBIDDEN, C.AMBIGUOUS_CREDENTIALS, C.NOT_FOUND, C.CSRF_FAILED)


def _checked(user_id: int) -> int:
    if not 0 < user_id < 2**63:
        raise NotFound("user")
    return user_id


@router.post("/ban", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
@access(Access.ADMIN)
def ban(user_id: int, caller: Admin, fd: FD, ctx: Ctx) -> Response:
    """Ban a user: all their sessions stop working at once, in every process."""
    fd.call(accounts.set_banned, _checked(user_id), True, ctx, actor_id=caller.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/unban", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
@access(Access.ADMIN)
def unban(user_id: int, caller: Admin, fd: FD, ctx: Ctx) -> Response:
    fd.call(accounts.set_banned, _checked(user_id), False, ctx, actor_id=caller.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/revoke-sessions", response_model=RevokedResponse, responses=ERRORS)
@access(Access.ADMIN)
def revoke_sessions(user_id: int, caller: Admin, fd: FD, ctx: Ctx) -> RevokedResponse:
    """End every session and API key of the user."""
    return RevokedResponse(
        revoked=fd.call(sessions.revoke_all_sessions, _checked(user_id), ctx, actor_id=caller.user_id)
    )


@router.post("/api-keys", status_code=status.HTTP_202_ACCEPTED, response_model=StatusResponse, responses=ERRORS)
@access(Access.ADMIN)
def create_api_key(user_id: int, body: AdminApiKeyRequest, caller: Admin, fd: FD, ctx: Ctx) -> StatusResponse:
    """Create an API key for the user and email it to them; it is never returned here."""
    fd.call(admin.issue_api_key, _checked(user_id), body.expiry_days, ctx, actor_id=caller.user_id)
    return StatusResponse(status="emailed")
