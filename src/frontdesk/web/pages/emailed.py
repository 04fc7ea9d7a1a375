"""The two halves every emailed-link page shares: asking for a link, and landing from one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from frontdesk.errors import FrontdeskError
from frontdesk.mail import KINDS
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
        try:
            send(user)
        except FrontdeskError as exc:
            form.error(exc)
        else:
            return sent(p, kind)
    return p.show(template, form)


def sent(p: P, kind: str, **context: Any) -> Response:
    """ "Check your email": what was sent and how long its link works (as the email says)."""
    lifetime = KINDS[kind].lifetime_text(p.settings)
    return p.render("sent.html", title="Check your email", kind=kind, lifetime=lifetime, **context)


def landing(p: P, template: str, token: str, incomplete: str = INCOMPLETE) -> Response:
    """The page an emailed link opens: a form holding the token, used only when it is sent
    (mail scanners open links on their own)."""
    form = Form(values={"token": token[:512]})
    if not token:
        form.fail(incomplete)
    return p.show(template, form)
