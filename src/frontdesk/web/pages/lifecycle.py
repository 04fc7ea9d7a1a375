"""Account lifecycle pages (contract section 7): the change-email, export and delete forms on
/account (their markup is `templates/_lifecycle.html`), and the pages the emailed links open:
confirm a new address, undo a change, restore a deleted account, and "this wasn't me" for a
sign-in from a new device. Each link page asks for a button press before using its link (mail
scanners open links)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter
from starlette.responses import Response

from frontdesk.crypto import MAX_TOKEN_LENGTH
from frontdesk.errors import FrontdeskError, SecondFactorRequired, TokenInvalid
from frontdesk.mail import KINDS
from frontdesk.service import deletion, email_change, export, notices
from frontdesk.web.cookies import clear_login_cookies, end_replaced_session, set_login_cookies
from frontdesk.web.deps import Access, access
from frontdesk.web.pages.account import _show
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.page import FreshSignedIn, P

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

# link kind -> (its page's template, what the link is called, the email kind that sent it)
LINKS = {
    "email_change": ("email_confirm.html", "confirmation link", "email_change_confirm"),
    "email_revert": ("email_revert.html", "undo link", "email_changed"),
    "restore": ("account_restore.html", "restore link", "account_deleted"),
    "not_me": ("not_me.html", "\u201cthis wasn\u2019t me\u201d link", "new_sign_in"),
}


@router.post("/account/email")
@access(Access.USER)
def change_email(p: P, caller: FreshSignedIn, posted: Posted) -> Response:
    form = Form.from_posted(posted, keep=("new_email",))
    if not p.csrf_ok(posted):
        return _show(p, caller, status=403, email_form=form.expired())
    new_email = form.need(posted, "new_email", "Enter the new email address.")
    if not form.invalid:
        try:
            p.fd.call(email_change.request_email_change, caller, new_email, p.ctx)
        except FrontdeskError as exc:
            form.error(exc, fields={"email": "new_email"})
        else:
            return p.redirect("/account?notice=email-change-sent")
    return _show(p, caller, status=form.status, email_form=form)


@router.get("/account/export")
@access(Access.USER)
def download_export(p: P, caller: FreshSignedIn) -> Response:
    """The export as a file download (the same document as `GET /v1/account/export`)."""
    document = p.fd.read(export.export_account, caller)
    headers = {
        "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="{p.settings.product_name}-account-{caller.user_id}.json"',
        "X-Content-Type-Options": "nosniff",
    }
    return Response(json.dumps(document, indent=2), media_type="application/json", headers=headers)


@router.post("/account/delete")
@access(Access.USER)
def delete_account(p: P, caller: FreshSignedIn, posted: Posted) -> Response:
    form = Form.from_posted(posted, keep=())
    if not p.csrf_ok(posted):
        return _show(p, caller, status=403, delete_form=form.expired())
    if posted.get("confirm") != "1":
        form.fail("Tick the box to confirm that you want to delete your account.", 400, "confirm")
        return _show(p, caller, status=400, delete_form=form)
    erase_at = p.fd.call(deletion.delete_own_account, caller, p.ctx)
    response = p.render("account_deleted.html", status=202, erase_at=erase_at)
    clear_login_cookies(response, p.settings)
    return response


def _landing(p: P, kind: str, token: str) -> Response:
    if token and not p.fd.read(email_change.lifecycle_link_is_live, kind, token):
        return _dead(p, kind)
    return _link_page(p, kind, token)


def _link_page(p: P, kind: str, token: str, **context: Any) -> Response:
    """The page of a live link (or of none: an incomplete link), with its button."""
    form = Form(values={"token": token[:MAX_TOKEN_LENGTH]})
    if not token:
        form.fail("This link is incomplete. Copy the whole link from the email.")
    return p.show(LINKS[kind][0], form, **context)


def _dead(p: P, kind: str) -> Response:
    _, what, email_kind = LINKS[kind]
    lifetime = KINDS[email_kind].lifetime_text(p.settings)
    return p.render(
        "link_dead.html", status=400, what=what, new_href="/login", new_label="Sign in", lifetime=lifetime, kind=kind
    )


def _use_link(p: P, posted: Posted, kind: str, use: Callable[[str], T], **context: Any) -> T | Response:
    """Check the posted form and use its link once: what `use` answers, or the page that says why not
    (an expired form, an incomplete link, a dead link, or the service's refusal), shown with `context`."""
    template = LINKS[kind][0]
    form = Form.from_posted(posted, keep=("token",))
    if not p.csrf_ok(posted):
        return p.show(template, form.expired(), **context)
    token = posted.get("token", "")
    if not token:
        return p.show(template, form.fail("This link is incomplete. Copy the whole link from the email."), **context)
    try:
        return use(token)
    except TokenInvalid:
        return _dead(p, kind)
    except FrontdeskError as exc:
        return p.show(template, form.error(exc), **context)


@router.get("/email/confirm")
@access(Access.OPEN)
def confirm_email_page(p: P, token: str = "") -> Response:
    return _landing(p, "email_change", token)


@router.post("/email/confirm")
@access(Access.OPEN)
def confirm_email_submit(p: P, posted: Posted) -> Response:
    email = _use_link(
        p, posted, "email_change", lambda token: p.fd.call(email_change.confirm_email_change, token, p.ctx)
    )
    if isinstance(email, Response):
        return email
    return p.render("lifecycle_done.html", done="email_changed", email=email)


@router.get("/email/revert")
@access(Access.OPEN)
def revert_email_page(p: P, token: str = "") -> Response:
    return _landing(p, "email_revert", token)


@router.post("/email/revert")
@access(Access.OPEN)
def revert_email_submit(p: P, posted: Posted) -> Response:
    def revert(token: str) -> Response:
        p.fd.call(email_change.revert_email_change, token, p.ctx)
        response = p.render("lifecycle_done.html", done="email_reverted", email="")
        clear_login_cookies(response, p.settings)  # every session of the account ended, this one too
        return response

    return _use_link(p, posted, "email_revert", revert)


@router.get("/account/restore")
@access(Access.OPEN)
def restore_page(p: P, token: str = "") -> Response:
    return _landing(p, "restore", token)


@router.post("/account/restore")
@access(Access.OPEN)
def restore_submit(p: P, posted: Posted) -> Response:
    def restore(token: str) -> Response:
        try:
            result = p.fd.call(deletion.restore_account, token, False, p.ctx)
        except SecondFactorRequired:  # restored; the sign-in needs the second factor too
            return p.redirect("/login?notice=restored")
        response = p.redirect("/account?notice=restored")
        end_replaced_session(p.fd, p.request.scope["headers"], result, p.ctx)
        set_login_cookies(response, result, p.settings)
        return response

    return _use_link(p, posted, "restore", restore)


@router.get("/sign-ins/not-me")
@access(Access.OPEN)
def not_me_page(p: P, token: str = "") -> Response:
    """What the sign-in was (device, place, time), and the button; opening it changes nothing."""
    notice = p.fd.read(notices.view_notice, token) if token else None
    if token and notice is None:
        return _dead(p, "not_me")
    return _link_page(p, "not_me", token, notice=notice)


@router.post("/sign-ins/not-me")
@access(Access.OPEN)
def not_me_submit(p: P, posted: Posted) -> Response:
    end_all = posted.get("end_all") == "1"

    def disown(token: str) -> Response:
        p.fd.call(notices.disown_sign_in, token, end_all, p.ctx)
        response = p.render("not_me_done.html", end_all=end_all)
        if end_all:
            clear_login_cookies(response, p.settings)  # every session of the account ended, this one too
        return response

    shown = posted.get("token", "")
    notice = p.fd.read(notices.view_notice, shown) if shown else None
    return _use_link(p, posted, "not_me", disown, notice=notice)
