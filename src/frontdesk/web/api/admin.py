"""Administrator endpoints (a superuser's session; anyone else gets 403 `forbidden`)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from frontdesk.service import accounts, admin, sessions
from frontdesk.web.deps import FD, Access, Admin, Ctx, access
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.errors import responses
from frontdesk.web.ids import UserId
from frontdesk.web.schemas import AdminApiKeyRequest, RevokedResponse, StatusResponse

router = APIRouter(prefix="/v1/admin/users/{user_id}", tags=["admin"])
ERRORS = responses(C.FORBIDDEN, C.AMBIGUOUS_CREDENTIALS, C.NOT_FOUND, C.CSRF_FAILED)


@router.post("/ban", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
@access(Access.ADMIN)
def ban(caller: Admin, user_id: UserId, fd: FD, ctx: Ctx) -> Response:
    """Ban a user: all their sessions stop working at once, in every process."""
    fd.call(accounts.set_banned, user_id, True, ctx, actor_id=caller.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/unban", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
@access(Access.ADMIN)
def unban(caller: Admin, user_id: UserId, fd: FD, ctx: Ctx) -> Response:
    fd.call(accounts.set_banned, user_id, False, ctx, actor_id=caller.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/revoke-sessions", response_model=RevokedResponse, responses=ERRORS)
@access(Access.ADMIN)
def revoke_sessions(caller: Admin, user_id: UserId, fd: FD, ctx: Ctx) -> RevokedResponse:
    """End every session and API key of the user."""
    return RevokedResponse(revoked=fd.call(sessions.revoke_all_sessions, user_id, ctx, actor_id=caller.user_id))


@router.post("/api-keys", status_code=status.HTTP_202_ACCEPTED, response_model=StatusResponse, responses=ERRORS)
@access(Access.ADMIN)
def create_api_key(caller: Admin, user_id: UserId, body: AdminApiKeyRequest, fd: FD, ctx: Ctx) -> StatusResponse:
    """Create an API key for the user and email it to them; it is never returned here."""
    fd.call(admin.issue_api_key, user_id, body.expiry_days, ctx, actor_id=caller.user_id)
    return StatusResponse(status="emailed")


@router.post("/reset-second-factors", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
@access(Access.ADMIN)
def reset_second_factors(caller: Admin, user_id: UserId, fd: FD, ctx: Ctx) -> Response:
    """For a user who lost their second factor: remove every factor and recovery code, end every
    session and API key, and email the user. They sign in again with their password alone."""
    fd.call(admin.reset_second_factors, user_id, ctx, actor_id=caller.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
