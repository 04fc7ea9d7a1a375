"""Signing in and out: /login, /logout, and the emailed sign-in link (/login-link) or its code."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from starlette.responses import Response

from frontdesk.crypto import MAX_TOKEN_LENGTH
from frontdesk.errors import FrontdeskError, InvalidCode, SecondFactorRequired
from frontdesk.service import login as login_service
from frontdesk.service.results import AuthResult
from frontdesk.service.sessions import end_current_session
from frontdesk.web.cookies import clear_login_cookies, end_replaced_session, set_login_cookies
from frontdesk.web.deps import Access, access
from frontdesk.web.errors import status_for
from frontdesk.web.outcomes import counted
from frontdesk.web.pages.emailed import failed_use, landing, request_link
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.nextpath import DEFAULT_NEXT, safe_next
from frontdesk.web.pages.page import SIGNED_OUT, P, PageRefused

router = APIRouter(include_in_schema=False)
Next = Annotated[str | None, Query(alias="next")]

NOTICES = {
    "signed-out": "You are signed out.",
    "session-ended": "Your session has ended. Please sign in again.",
    "restored": "Your account is restored. Sign in to continue.",
}
# a wrong sign-in code, an unknown user or no live grant: one answer (nothing tells them apart)
WRONG_CODE = (
    "That code is not right, or it has expired or was already used. Check the newest sign-in email, or ask for "
    "a new link."
)
# `?reason=`: why a page sent the browser here (see `Page.to_login`)
REASONS = {
    SIGNED_OUT: "You were signed out on this device (from another device, by a password change, or because "
    "the session expired). Please sign in again.",
}


def redirect_signed_in(p: P, result: AuthResult, target: str) -> Response:
    """Set the new session's cookies (ending a session of the same user this browser still had)."""
    end_replaced_session(p.fd, p.request.scope["headers"], result, p.ctx)
    response = p.redirect(target)
    set_login_cookies(response, result, p.settings)
    return response


def to_second_step(p: P, outcome: SecondFactorRequired, target: str) -> Response:
    """A first factor passed for a user with a second factor: on to `/login/second-step`."""
    query = {"challenge": outcome.challenge, **({"next": target} if target != DEFAULT_NEXT else {})}
    return p.redirect("/login/second-step?" + urlencode(query))


# --- password ---------------------------------------------------------------------------------


@router.get("/login")
@access(Access.OPEN)
def login_page(p: P, next_: Next = None, notice: str | None = None, reason: str | None = None) -> Response:
    target = safe_next(next_, p.settings)
    if p.caller is not None:
        return p.redirect(target)
    notice_text = NOTICES.get(notice or "") or REASONS.get(reason or "")
    return p.show("login.html", Form(), webauthn=True, next=target, notice=notice_text)


@router.post("/login")
@access(Access.OPEN)
def login_submit(p: P, posted: Posted) -> Response:
    target = safe_next(posted.get("next"), p.settings)
    form = Form.from_posted(posted, keep=("user", "remember_device"))
    if not p.csrf_ok(posted):
        return p.show("login.html", form.expired(), webauthn=True, next=target, notice=None)
    user = form.need(posted, "user", "Enter your username or email address.")
    password = form.need(posted, "password", "Enter your password.")
    if not form.invalid:
        remember = posted.get("remember_device") == "1"
        try:
            result = counted(
                "password", lambda: p.fd.call(login_service.login_with_password, user, password, remember, p.ctx)
            )
        except SecondFactorRequired as outcome:
            return to_second_step(p, outcome, target)
        except FrontdeskError as exc:
            form.error(exc).focus = "password"  # the usual fix is retyping it
        else:
            return redirect_signed_in(p, result, target)
    return p.show("login.html", form, webauthn=True, next=target, notice=None)


# --- logout -----------------------------------------------------------------------------------


@router.get("/login/from-proxy")
@access(Access.OPEN)
def from_proxy(p: P) -> Response:
    """Where a reverse proxy sends a signed-out browser (nginx `error_page 401`, see
    docs/reverse-proxy.md): on to `/login?next=<the address it asked for>`, percent-encoded here
    because nginx can't. The proxy passes that address (path and query) in `X-Forwarded-Uri`."""
    return p.to_login(safe_next(p.request.headers.get("x-forwarded-uri"), p.settings))


@router.get("/logout")
@access(Access.OPEN)
def logout_page(p: P) -> Response:
    if p.caller is None:
        return p.redirect("/login")
    return p.show("logout.html", Form(), caller=p.caller)


@router.post("/logout")
@access(Access.OPEN)
def logout_submit(p: P, posted: Posted) -> Response:
    try:
        caller = p.caller
    except PageRefused:  # two session cookies: end neither, but still clear this site's
        caller = None
    if caller is None:
        response = p.redirect("/login?notice=signed-out")
        clear_login_cookies(response, p.settings)
        return response
    if not p.csrf_ok(posted):
        return p.show("logout.html", Form().expired(), caller=caller)
    p.fd.call(end_current_session, caller, p.ctx)
    response = p.redirect("/login?notice=signed-out")
    clear_login_cookies(response, p.settings)
    return response


# --- sign-in link -----------------------------------------------------------------------------


@router.get("/login-link")
@access(Access.OPEN)
def login_link_page(p: P) -> Response:
    return p.show("login_link.html", Form())


@router.post("/login-link")
@access(Access.OPEN)
def login_link_submit(p: P, posted: Posted) -> Response:
    def send(user: str) -> None:
        p.fd.call(login_service.request_login_link, user, p.ctx)

    return request_link(p, posted, "login_link.html", send, kind="login_link")


@router.get("/login-link/confirm")
@access(Access.OPEN)
def login_link_confirm_page(p: P, token: str = "") -> Response:
    """Show a button: opening the link alone (as mail scanners do) never uses the token."""
    return landing(p, "login_link_confirm.html", token, "login_link")


@router.post("/login-link/confirm")
@access(Access.OPEN)
def login_link_confirm_submit(p: P, posted: Posted) -> Response:
    form = Form.from_posted(posted, keep=("token", "remember_device"))
    if not p.csrf_ok(posted):
        return p.show("login_link_confirm.html", form.expired())
    token = posted.get("token", "")[:MAX_TOKEN_LENGTH]
    remember = posted.get("remember_device") == "1"
    try:
        result = counted("login_link", lambda: p.fd.call(login_service.consume_login_link, token, remember, p.ctx))
    except SecondFactorRequired as outcome:
        return to_second_step(p, outcome, DEFAULT_NEXT)
    except FrontdeskError as exc:
        return failed_use(p, "login_link_confirm.html", form, exc, "login_link")
    return redirect_signed_in(p, result, "/account")


@router.get("/login-link/code")
@access(Access.OPEN)
def login_code_page(p: P) -> Response:
    """Type the code from a sign-in email (asked for on this device or another)."""
    return _code_page(p, Form())


@router.post("/login-link/code")
@access(Access.OPEN)
def login_code_submit(p: P, posted: Posted) -> Response:
    """The code from the sign-in email, typed on "Check your email" or /login-link/code: signed in
    (or on to the second step). A wrong code: the page says so (401, the user kept, the code not),
    and nothing else changes but the count of tries."""
    form = Form.from_posted(posted, keep=("user", "remember_device"))
    if not p.csrf_ok(posted):
        return _code_page(p, form.expired())
    user = form.need(posted, "user", "Enter your username or email address.")
    code = posted.get("code", "")
    if not code.strip():
        form.fail("Enter the 6-digit code from the email.", field_name="code")
    elif login_service.normalise_code(code) is None:
        form.fail("The code is the 6 digits in the email.", field_name="code")
    if form.invalid:
        return _code_page(p, form)
    remember = posted.get("remember_device") == "1"
    digits = login_service.normalise_code(code) or ""
    try:
        result = counted("login_code", lambda: p.fd.call(login_service.login_with_code, user, digits, remember, p.ctx))
    except SecondFactorRequired as outcome:
        return to_second_step(p, outcome, DEFAULT_NEXT)
    except InvalidCode as exc:
        return _code_page(p, form.fail(WRONG_CODE, status_for(exc), "code"))
    except FrontdeskError as exc:  # over the login limit (429), or the hashing queue is full (503)
        return _code_page(p, form.error(exc))
    return redirect_signed_in(p, result, "/account")


def _code_page(p: P, form: Form) -> Response:
    return p.show("login_code.html", form)
