"""Account endpoints: your sessions, your password, your API keys (a valid session required)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from frontdesk.errors import MustConfirm
from frontdesk.service import accounts, sessions
from frontdesk.web.cookies import no_store
from frontdesk.web.deps import FD, Access, Caller, Ctx, access
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.errors import responses
from frontdesk.web.ids import SessionId
from frontdesk.web.schemas import (
    ApiKeyRequest,
    ApiKeyResponse,
    ChangePasswordRequest,
    ConfirmRequest,
    RevokedResponse,
    SessionItem,
    SessionListResponse,
)

router = APIRouter(prefix="/v1", tags=["account"])
AUTH = (C.UNAUTHENTICATED, C.AMBIGUOUS_CREDENTIALS)


@router.get("/sessions", response_model=SessionListResponse, responses=responses(*AUTH))
@access(Access.USER)
def list_sessions(
    caller: Caller,
    fd: FD,
    page_size: Annotated[int | None, Query(ge=1, le=sessions.MAX_PAGE_SIZE)] = None,
    page_token: Annotated[str | None, Query(max_length=200)] = None,
) -> SessionListResponse:
    """Your valid sessions and API keys, most recently seen first."""
    page = fd.read(sessions.list_sessions, caller.user_id, page_size, page_token, current_session_id=caller.session_id)
    return SessionListResponse(
        sessions=[SessionItem.model_validate(view, from_attributes=True) for view in page.sessions],
        next_page_token=page.next_page_token,
    )


@router.delete(
    "/sessions/{session_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*AUTH, C.NOT_FOUND, C.CANNOT_DELETE_CURRENT_SESSION, C.CSRF_FAILED),
)
@access(Access.USER)
def delete_session(caller: Caller, session_id: SessionId, fd: FD, ctx: Ctx) -> Response:
    """End one of your other sessions or API keys; it stops working at once."""
    fd.call(sessions.revoke_session, caller, session_id, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/sessions/revoke-others", response_model=RevokedResponse, responses=responses(*AUTH, C.MUST_CONFIRM, C.CSRF_FAILED)
)
@access(Access.USER)
def revoke_other_sessions(body: ConfirmRequest, caller: Caller, fd: FD, ctx: Ctx) -> RevokedResponse:
    """Sign out every other browser (API keys stay). Needs `confirm: true`."""
    if body.confirm is not True:
        raise MustConfirm()
    return RevokedResponse(revoked=fd.call(sessions.revoke_other_sessions, caller, ctx))


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(
        *AUTH,
        C.INVALID_CREDENTIALS,
        C.PASSWORD_TOO_SHORT,
        C.PASSWORD_TOO_LONG,
        C.INSECURE_PASSWORD,
        C.RATE_LIMITED,  # wrong old passwords count against the account's login limit
        C.REAUTHENTICATION_REQUIRED,  # a stale session of a user with a second factor
        C.CSRF_FAILED,
    ),
)
@access(Access.USER)
def change_password(body: ChangePasswordRequest, caller: Caller, fd: FD, ctx: Ctx) -> Response:
    """Change your password; your other sessions end (API keys too unless `keep_api_keys`) and you
    get a notice by email. A fresh session, or (for a user without a second factor) the right
    `old_password`, which then counts as re-authenticating."""
    fd.call(
        accounts.change_password, caller, body.old_password, body.new_password, ctx, keep_api_keys=body.keep_api_keys
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyResponse,
    responses=responses(
        *AUTH, C.INVALID_CREDENTIALS, C.FORBIDDEN, C.REAUTHENTICATION_REQUIRED, C.RATE_LIMITED, C.CSRF_FAILED
    ),
)
@access(Access.USER)
def create_api_key(body: ApiKeyRequest, caller: Caller, fd: FD, ctx: Ctx, response: Response) -> ApiKeyResponse:
    """A new API key (`Authorization: Bearer fdk_…`). The token is shown only in this response.
    A fresh session, or (for a user without a second factor) the right `password`, which then
    counts as re-authenticating."""
    issued = fd.call(sessions.create_api_key, caller, body.password, body.name, body.expiry_days, ctx)
    no_store(response)
    return ApiKeyResponse(id=issued.session.id, token=issued.token, expiry=issued.session.expiry)
