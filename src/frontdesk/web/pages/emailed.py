"""The two halves every emailed-link page shares: asking for a link, and landing from one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from frontdesk.crypto import MAX_TOKEN_LENGTH
from frontdesk.errors import FrontdeskError, TokenInvalid
from frontdesk.mail import KINDS
from frontdesk.service.linkcheck import LinkKind, link_is_live
from frontdesk.web.later import after_response
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.page import P

INCOMPLETE = "This link is incomplete. Copy the whole link from the email, or ask for a new one."


def request_link(p: P, posted: Posted, template: str, send: Callable[[str], None], *, kind: str) -> Response:
    """Handle "email me a link" for a username or email: the same answer whether or not it exists.
    `kind` is the email kind sent, whose lifetime text the answer page shows."""
    form = Form.from_posted(posted, keep=("user",))
    if not p.csrf_ok(posted):
        return p.show(template, form.expired())
    user = form.need(posted, "user", "Enter your username or email address.")
    if not form.invalid:
        # answered first, sent after: the same work before the answer whether or not `user` exists
        # (a sign-in link's page also offers its code's form, carrying what was typed)
        extra = {"code_form": Form(values={"user": user})} if kind == "login_link" else {}
        response = sent(p, kind, **extra)
        response.background = after_response(lambda: send(user), kind)
        return response
    return p.show(template, form)


def sent(p: P, kind: str, **context: Any) -> Response:
    """ "Check your email": what was sent and how long its link works (as the email says)."""
    lifetime = KINDS[kind].lifetime_text(p.settings)
    context.setdefault("code_form", None)
    return p.render("sent.html", title="Check your email", kind=kind, lifetime=lifetime, **context)


# What each kind of link is called, where a new one comes from, and how that page's button reads
_DEAD = {
    "login_link": ("sign-in link", "/login-link", "Email me a new sign-in link"),
    "password_reset": ("password reset link", "/forgot-password", "Email me a new reset link"),
    "signup": ("confirmation link", "/signup", "Sign up again for a new link"),
}
_EMAIL_KIND = {"login_link": "login_link", "password_reset": "password_reset", "signup": "signup_confirm"}


def landing(p: P, template: str, token: str, kind: LinkKind, incomplete: str = INCOMPLETE) -> Response:
    """The page an emailed link opens: a form holding the token, used only when it is sent
    (mail scanners open links on their own). The token is checked, not used, on opening: a used
    or expired link shows `dead_link` at once, before anyone types anything."""
    if token and not p.fd.read(link_is_live, kind, token):
        return dead_link(p, kind)
    form = Form(values={"token": token[:MAX_TOKEN_LENGTH]})
    if not token:
        form.fail(incomplete)
    return p.show(template, form)


def dead_link(p: P, kind: LinkKind) -> Response:
    """ "This link has expired or was already used": no form, a way to get a new link (400, as the
    API answers `invalid_token`)."""
    what, new_href, new_label = _DEAD[kind]
    lifetime = KINDS[_EMAIL_KIND[kind]].lifetime_text(p.settings)
    return p.render(
        "link_dead.html", status=400, what=what, new_href=new_href, new_label=new_label, lifetime=lifetime, kind=kind
    )


def failed_use(p: P, template: str, form: Form, exc: FrontdeskError, kind: LinkKind) -> Response:
    """After the button: a bad link becomes `dead_link` (the page stops offering the button);
    any other error is shown on the form, which keeps the token for another try."""
    if isinstance(exc, TokenInvalid):
        return dead_link(p, kind)
    return p.show(template, form.error(exc))
