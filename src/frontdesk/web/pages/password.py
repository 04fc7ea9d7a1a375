"""A forgotten password: /forgot-password emails a link; /reset-password sets a new password."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from frontdesk.crypto import MAX_TOKEN_LENGTH
from frontdesk.errors import FrontdeskError, SecondFactorRequired
from frontdesk.service import reset
from frontdesk.web.cookies import set_login_cookies
from frontdesk.web.deps import Access, access
from frontdesk.web.pages.emailed import failed_use, landing, request_link
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.page import P
from frontdesk.web.pages.signin import to_second_step

router = APIRouter(include_in_schema=False)


@router.get("/forgot-password")
@access(Access.OPEN)
def forgot_page(p: P) -> Response:
    return p.show("forgot_password.html", Form())


@router.post("/forgot-password")
@access(Access.OPEN)
def forgot_submit(p: P, posted: Posted) -> Response:
    def send(user: str) -> None:
        p.fd.call(reset.request_password_reset, user, p.ctx)

    return request_link(p, posted, "forgot_password.html", send, kind="password_reset")


@router.get("/reset-password")
@access(Access.OPEN)
def reset_page(p: P, token: str = "") -> Response:
    """The new-password form; the token is used only when the form is sent."""
    return landing(p, "reset_password.html", token, "password_reset")


@router.post("/reset-password")
@access(Access.OPEN)
def reset_submit(p: P, posted: Posted) -> Response:
    form = Form.from_posted(posted, keep=("token", "keep_api_keys"))
    if not p.csrf_ok(posted):
        return p.show("reset_password.html", form.expired())
    new_password = form.need(posted, "new_password", "Choose a new password.")
    if not form.invalid:
        try:
            keep = posted.get("keep_api_keys") == "1"
            token = form.values["token"][:MAX_TOKEN_LENGTH]
            result = p.fd.call(reset.complete_password_reset, token, new_password, p.ctx, keep_api_keys=keep)
        except SecondFactorRequired as outcome:  # the new password applies once the second step passes
            return to_second_step(p, outcome, "/account?notice=password-reset")
        except FrontdeskError as exc:
            return failed_use(p, "reset_password.html", form, exc, "password_reset")
        else:
            response = p.redirect("/account?notice=password-reset")
            set_login_cookies(response, result, p.settings)
            return response
    return p.show("reset_password.html", form)
