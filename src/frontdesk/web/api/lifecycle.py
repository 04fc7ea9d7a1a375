"""Account lifecycle endpoints (contract section 7): change the email address with both addresses'
approval, delete the account with a grace period, restore it, export what is held, and say that a
sign-in from a new device wasn't you."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from frontdesk.errors import MustConfirm
from frontdesk.service import deletion, email_change, export, notices
from frontdesk.web.api.factors import MFA_REQUIRED
from frontdesk.web.api.results import auth_response_with_cookies
from frontdesk.web.cookies import clear_login_cookies, end_replaced_session, no_store
from frontdesk.web.deps import FD, Access, Ctx, Fresh, access
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.errors import responses
from frontdesk.web.lifecycle_schemas import (
    AccountExport,
    DeleteAccountRequest,
    DeletionScheduledResponse,
    EmailChangeRequest,
    EmailChangeTokenRequest,
    EmailResponse,
    NotMeRequest,
    RestoreRequest,
)
from frontdesk.web.schemas import AuthResponse, StatusResponse

router = APIRouter(prefix="/v1", tags=["account lifecycle"])
# a fresh cookie session (contract section 6): 401 without one, 403 for an API key or a stale one
FRESH = (C.UNAUTHENTICATED, C.AMBIGUOUS_CREDENTIALS, C.FORBIDDEN, C.REAUTHENTICATION_REQUIRED, C.CSRF_FAILED)


@router.post(
    "/email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=StatusResponse,
    responses=responses(*FRESH, C.INVALID_EMAIL),
)
@access(Access.USER)
def request_email_change(body: EmailChangeRequest, caller: Fresh, fd: FD, ctx: Ctx) -> StatusResponse:
    """Ask to change your email address: the new address gets a confirm link, the current one a
    notice. The same 202 if the new address belongs to another account (nothing changes then,
    and that account's owner is told)."""
    fd.call(email_change.request_email_change, caller, body.new_email, ctx)
    return StatusResponse(status="confirmation_sent")


@router.post("/email/confirm", response_model=EmailResponse, responses=responses(C.INVALID_TOKEN, C.CSRF_FAILED))
@access(Access.OPEN)
def confirm_email_change(body: EmailChangeTokenRequest, fd: FD, ctx: Ctx) -> EmailResponse:
    """Use the link sent to the new address (once; no session needed): it becomes the account's
    address, and the old one gets a single-use link that undoes the change."""
    return EmailResponse(email=fd.call(email_change.confirm_email_change, body.token, ctx))


@router.post(
    "/email/revert",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(C.INVALID_TOKEN, C.CSRF_FAILED),
)
@access(Access.OPEN)
def revert_email_change(body: EmailChangeTokenRequest, fd: FD, ctx: Ctx) -> Response:
    """Use the undo link sent to the old address (once): the old address is back, every session,
    API key and link of the account ends, and the old address gets a link to choose a new password."""
    fd.call(email_change.revert_email_change, body.token, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/account",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeletionScheduledResponse,
    responses=responses(*FRESH, C.MUST_CONFIRM),
)
@access(Access.USER)
def delete_account(body: DeleteAccountRequest, caller: Fresh, fd: FD, ctx: Ctx, response: Response) -> object:
    """Delete your account (`confirm: true`): every session and API key ends now, and the account
    is erased after FRONTDESK_ACCOUNT_DELETION_GRACE unless restored with the emailed link."""
    if body.confirm is not True:
        raise MustConfirm()
    erase_after = fd.call(deletion.delete_own_account, caller, ctx)
    clear_login_cookies(response, fd.settings)
    return DeletionScheduledResponse(status="deletion_scheduled", erase_after=erase_after)


@router.post(
    "/account/restore",
    response_model=AuthResponse,
    responses={**responses(C.INVALID_TOKEN, C.CSRF_FAILED), **MFA_REQUIRED},
)
@access(Access.OPEN)
def restore_account(request: Request, body: RestoreRequest, fd: FD, ctx: Ctx, response: Response) -> AuthResponse:
    """Use the restore link (once, within the grace period): the account is back and signed in."""
    result = fd.call(deletion.restore_account, body.token, body.remember_device, ctx)
    end_replaced_session(fd, request.scope["headers"], result, ctx)
    return auth_response_with_cookies(response, result, fd.settings)


@router.get("/account/export", response_model=AccountExport, responses=responses(*FRESH))
@access(Access.USER)
def export_account(caller: Fresh, fd: FD, response: Response) -> object:
    """Everything held about you, as one JSON document: profile, sessions and devices, API keys
    (no tokens), second factors (no secrets), identities, emailed links, audit events, and the
    emails sent to you (kind and time)."""
    no_store(response)
    return fd.read(export.export_account, caller)


@router.post(
    "/sign-ins/not-me",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(C.INVALID_TOKEN, C.CSRF_FAILED),
)
@access(Access.OPEN)
def sign_in_was_not_me(body: NotMeRequest, fd: FD, ctx: Ctx) -> Response:
    """Use the "this wasn't me" link of a new-sign-in email (once; no session needed): the sessions
    and API keys that device made since end (with `end_all`, every session and API key of the
    account), and the account's address gets a link to choose a new password."""
    fd.call(notices.disown_sign_in, body.token, body.end_all, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
