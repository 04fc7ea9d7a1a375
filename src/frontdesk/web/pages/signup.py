"""Signing up: /signup sends a confirmation email; /signup/confirm creates the account."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter
from starlette.responses import Response

from frontdesk.crypto import MAX_TOKEN_LENGTH
from frontdesk.errors import FrontdeskError, InvalidInput
from frontdesk.service import identity, signup
from frontdesk.service.identity import USERNAME_HELP
from frontdesk.service.passwords import check_password
from frontdesk.web.cookies import set_login_cookies
from frontdesk.web.deps import Access, access
from frontdesk.web.pages.emailed import failed_use, landing, sent
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.page import P

router = APIRouter(include_in_schema=False)
KEEP = ("email", "username", "name")


@router.get("/signup")
@access(Access.OPEN)
def signup_page(p: P) -> Response:
    if p.caller is not None:
        return p.redirect("/account")
    return p.show("signup.html", Form(), username_help=USERNAME_HELP)


@router.post("/signup")
@access(Access.OPEN)
def signup_submit(p: P, posted: Posted) -> Response:
    form = Form.from_posted(posted, keep=KEEP)
    if not p.csrf_ok(posted):
        return p.show("signup.html", form.expired(), username_help=USERNAME_HELP)
    name = form.need(posted, "name", "Enter your name.")
    email = form.need(posted, "email", "Enter your email address.")
    username = form.need(posted, "username", "Choose a username.")
    password = form.need(posted, "password", "Choose a password.")
    _check_each_field(form, name, email, username, password, p.settings.product_name)
    if not form.invalid:
        try:
            p.fd.call(signup.request_signup, email=email, username=username, password=password, name=name, ctx=p.ctx)
        except FrontdeskError as exc:
            form.error(exc)
        else:
            return sent(p, "signup_confirm", email=email)
    return p.show("signup.html", form, username_help=USERNAME_HELP)


def _check_each_field(form: Form, name: str, email: str, username: str, password: str, product: str) -> None:
    """Every field's rule at once, so one try shows every problem (the use case stops at the first)."""
    checks: list[tuple[str, Callable[[], object]]] = [
        ("name", lambda: identity.clean_name(name)),
        ("email", lambda: identity.normalise_email(email)),
        ("username", lambda: identity.username_forms(username)),
        ("password", lambda: check_password(password, product, username=username, email=email)),
    ]
    for field_name, check in checks:
        if field_name in form.errors:
            continue
        try:
            check()
        except InvalidInput as exc:
            form.fail(str(exc), 400, field_name)


@router.get("/signup/confirm")
@access(Access.OPEN)
def signup_confirm_page(p: P, token: str = "") -> Response:
    """A button to confirm: opening the link alone never uses the token."""
    return landing(
        p, "signup_confirm.html", token, "signup", "This link is incomplete. Copy the whole link from the email."
    )


@router.post("/signup/confirm")
@access(Access.OPEN)
def signup_confirm_submit(p: P, posted: Posted) -> Response:
    form = Form.from_posted(posted, keep=("token",))
    if not p.csrf_ok(posted):
        return p.show("signup_confirm.html", form.expired())
    try:
        result = p.fd.call(signup.confirm_signup, posted.get("token", "")[:MAX_TOKEN_LENGTH], p.ctx)
    except FrontdeskError as exc:
        return failed_use(p, "signup_confirm.html", form, exc, "signup")
    response = p.redirect("/account?notice=welcome")
    set_login_cookies(response, result, p.settings)
    return response
