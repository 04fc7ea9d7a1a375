"""/account: where you are signed in, your API keys, your password (signed-in users only: every
route takes `SignedIn`, which sends anyone else to /login)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from frontdesk.errors import FrontdeskError, InvalidCredentials, NotFound, ReauthenticationRequired
from frontdesk.service import accounts, factors, sessions
from frontdesk.service.context import Principal
from frontdesk.settings import API_KEY_MAX_DAYS, API_KEY_MIN_DAYS
from frontdesk.web.deps import Access, access, open_while_enrolling
from frontdesk.web.ids import SessionId
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.identities_view import IDENTITY_NOTICES, identities_section
from frontdesk.web.pages.page import P, SignedIn
from frontdesk.web.pages.two_step_view import TWO_STEP_NOTICES, two_step_defaults

router = APIRouter(include_in_schema=False)

NOTICES = {
    "welcome": "Welcome! Your email address is confirmed and you are signed in.",
    "password-reset": "Your password is changed. Every other browser, and any API key you did not keep, is out.",
    "password-changed": "Your password is changed. Every other browser, and any API key you did not keep, is out.",
    "session-revoked": "That session is signed out.",
    "key-revoked": "That API key is revoked: it no longer works.",
    "others-revoked": "Every other browser is signed out.",
    "already-ended": "That session had already ended.",
    **TWO_STEP_NOTICES,
    **IDENTITY_NOTICES,
    # account lifecycle (pages/lifecycle.py)
    "email-change-sent": "Check the inbox of your new address: open the link there to confirm it. "
    "Your current address stays until then.",
    "restored": "Welcome back! Your account is restored.",
}


def _show(p: P, caller: Principal, *, status: int = 200, notice: str | None = None, **forms: Any) -> Response:
    """The account page; `forms` may carry the state of one form (errors, the new API key)."""
    page = p.fd.read(
        sessions.list_sessions, caller.user_id, sessions.MAX_PAGE_SIZE, None, current_session_id=caller.session_id
    )
    browsers = [s for s in page.sessions if not s.is_api_key]
    keys = [s for s in page.sessions if s.is_api_key]
    context: dict[str, Any] = {
        "password_form": Form(),
        "key_form": Form(values={"expiry_days": str(p.settings.api_key_default_days)}),
        "banner": None,
        "new_key": None,
        **two_step_defaults(),
        "email_form": Form(),  # pages/lifecycle.py
        "delete_form": Form(),
        **identities_section(p, caller),  # pages/identities.py
        **forms,
    }
    form_targets = context.pop("identity_form_targets")  # the providers its Link forms redirect to
    headers = next((f.headers for f in forms.values() if isinstance(f, Form) and f.headers), None)
    return p.render(
        "account.html",
        status=status,
        headers=headers,
        caller=caller,
        browsers=browsers,
        keys=keys,
        more=page.next_page_token is not None,
        notice=notice,
        factors=p.fd.read(factors.overview, caller.user_id),
        webauthn=True,  # adding a security key or passkey
        form_targets=form_targets,
        **context,
    )


@router.get("/account")
@access(Access.USER)
@open_while_enrolling  # where second factors are set up
def account_page(p: P, caller: SignedIn, notice: str | None = None) -> Response:
    return _show(p, caller, notice=NOTICES.get(notice or ""))


@router.post("/account/sessions/{session_id:int}/revoke")
@access(Access.USER)
def revoke_session(p: P, caller: SignedIn, session_id: SessionId, posted: Posted) -> Response:
    if not p.csrf_ok(posted):
        return _show(p, caller, status=403, banner=Form().expired())
    try:
        was_api_key = p.fd.call(sessions.revoke_session, caller, session_id, p.ctx)
    except NotFound:
        return p.redirect("/account?notice=already-ended")
    except FrontdeskError as exc:
        return _show(p, caller, status=400, banner=Form().error(exc))
    return p.redirect("/account?notice=" + ("key-revoked" if was_api_key else "session-revoked"))


@router.post("/account/sessions/revoke-others")
@access(Access.USER)
def revoke_others(p: P, caller: SignedIn, posted: Posted) -> Response:
    if not p.csrf_ok(posted):
        return _show(p, caller, status=403, banner=Form().expired())
    p.fd.call(sessions.revoke_other_sessions, caller, p.ctx)
    return p.redirect("/account?notice=others-revoked")


@router.post("/account/password")
@access(Access.USER)
def change_password(p: P, caller: SignedIn, posted: Posted) -> Response:
    form = Form.from_posted(posted, keep=("keep_api_keys",))
    if not p.csrf_ok(posted):
        return _show(p, caller, status=403, password_form=form.expired())
    old = form.need(posted, "current_password", "Enter your current password.")
    new = form.need(posted, "new_password", "Choose a new password.")
    if not form.invalid:
        try:
            keep = posted.get("keep_api_keys") == "1"
            p.fd.call(accounts.change_password, caller, old, new, p.ctx, keep_api_keys=keep)
        except ReauthenticationRequired:
            return p.to_reauthenticate()
        except InvalidCredentials:
            form.fail("That is not your current password.", 401, "current_password")
        except FrontdeskError as exc:
            form.error(exc)
        else:
            return p.redirect("/account?notice=password-changed")
    return _show(p, caller, status=form.status, password_form=form)


@router.post("/account/api-keys")
@access(Access.USER)
def create_api_key(p: P, caller: SignedIn, posted: Posted) -> Response:
    form = Form.from_posted(posted, keep=("name", "expiry_days"))
    if not p.csrf_ok(posted):
        return _show(p, caller, status=403, key_form=form.expired())
    name = form.need(posted, "name", "Name the key, for example after the script that uses it.")
    days_text = form.need(posted, "expiry_days", "Enter how many days the key should work.").strip()
    password = form.need(posted, "password", "Enter your password to confirm it's you.")
    days = int(days_text) if days_text.isdigit() and len(days_text) < 5 else 0
    if days_text and not API_KEY_MIN_DAYS <= days <= API_KEY_MAX_DAYS:
        form.fail(f"Enter a whole number of days from {API_KEY_MIN_DAYS} to {API_KEY_MAX_DAYS}.", 400, "expiry_days")
    if not form.invalid:
        try:
            issued = p.fd.call(sessions.create_api_key, caller, password, name, days, p.ctx)
        except ReauthenticationRequired:
            return p.to_reauthenticate()
        except InvalidCredentials:
            form.fail("That password is not right.", 401, "password")
        except FrontdeskError as exc:
            form.error(exc)
        else:
            fresh = Form(values={"expiry_days": str(p.settings.api_key_default_days)})
            return _show(p, caller, status=201, key_form=fresh, new_key=issued)
    return _show(p, caller, status=form.status, key_form=form)
