"""The two halves every emailed-link page shares: asking for a link, and landing from one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from starlette.responses import Response

from frontdesk.web.later import after_response
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.page import P

INCOMPLETE = "This link is incomplete. Copy the whole link from the email, or ask for a new one."


def request_link(
    p: P, posted: Posted, template: str, send: Callable[[str], None], *, kind: str, ttl: timedelta
) -> Response:
    """Handle "email me a link" for a username or email: the same answer whether or not it exists."""
    form = Form.from_posted(posted, keep=("user",))
    if not p.csrf_ok(posted):
        return p.show(template, form.expired())
    user = form.need(posted, "user", "Enter your username or email address.")
    if not form.invalid:
        # answered first, sent after: the same work before the answer whether or not `user` exists
        response = p.render("sent.html", title="Check your email", kind=kind, ttl=ttl)
        response.background = after_response(lambda: send(user), kind)
        return response
    return p.show(template, form)


def landing(p: P, template: str, token: str, incomplete: str = INCOMPLETE) -> Response:
    """The page an emailed link opens: a form holding the token, used only when it is sent
    (mail scanners open links on their own)."""
    form = Form(values={"token": token[:512]})
    if not token:
        form.fail(incomplete)
    return p.show(template, form)
