"""/account → "Two-step verification": an authenticator app, security keys and passkeys, and
recovery codes (contract section 6, "Pages"). Every change needs a fresh session (`FreshSignedIn`
sends a stale one to /reauthenticate first).

The authenticator app and recovery codes work without JavaScript. Adding a security key or
passkey needs the browser's WebAuthn, so `static/webauthn.js` runs the ceremony and sends its
answer in the form's `credential` field; the server checks it here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from frontdesk.errors import FrontdeskError, InvalidCode, NotFound
from frontdesk.service import factors, totp, webauthn
from frontdesk.service.context import Principal
from frontdesk.web.deps import Access, access
from frontdesk.web.ids import CredentialId
from frontdesk.web.pages.account import _show
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.page import FreshSignedIn, P

router = APIRouter(include_in_schema=False)
SECTION = "/account#two-step"
NEEDS_JAVASCRIPT = (
    "Adding a security key or passkey needs JavaScript in this browser. Turn it on, or use an authenticator app."
)
CODE_REFUSED = "That code is not right. Check the app shows this account, and type the newest code."


def parse_credential(posted: Mapping[str, str]) -> dict[str, Any] | None:
    """The browser's WebAuthn answer (JSON) from a form's `credential` field, or None when absent or not an object."""
    raw = posted.get("credential", "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _expired(p: P, caller: Principal) -> Response:
    return _show(p, caller, status=403, two_step_banner=Form().expired())


@router.post("/account/two-step/totp")
@access(Access.USER)
def begin_totp(p: P, caller: FreshSignedIn, posted: Posted) -> Response:
    if not p.csrf_ok(posted):
        return _expired(p, caller)
    enrolment = p.fd.call(totp.begin_totp_enrolment, caller.user_id, p.ctx)
    return _show(p, caller, totp_enrolment=enrolment)


@router.post("/account/two-step/totp/confirm")
@access(Access.USER)
def confirm_totp(p: P, caller: FreshSignedIn, posted: Posted) -> Response:
    form = Form()
    if not p.csrf_ok(posted):
        form.expired()
    else:
        code = form.need(posted, "totp", "Enter the 6-digit code the app shows.")
        if not form.invalid:
            try:
                codes = p.fd.call(totp.confirm_totp, caller.user_id, code, p.ctx)
            except InvalidCode:
                form.fail(CODE_REFUSED, 401, "totp")
            except FrontdeskError as exc:
                form.error(exc, fields={"totp": "totp"})
            else:
                if codes is None:
                    return p.redirect("/account?notice=totp-added#two-step")
                return _show(p, caller, status=200, recovery_codes=codes, recovery_codes_why="first")
    enrolment = p.fd.read(totp.pending_enrolment, caller.user_id)
    return _show(p, caller, status=form.status, totp_enrolment=enrolment, totp_form=form)


@router.post("/account/two-step/totp/remove")
@access(Access.USER)
def remove_totp(p: P, caller: FreshSignedIn, posted: Posted) -> Response:
    if not p.csrf_ok(posted):
        return _expired(p, caller)
    with suppress(NotFound):  # already gone: the notice is still true
        p.fd.call(totp.remove_totp, caller.user_id, p.ctx)
    return p.redirect("/account?notice=totp-removed#two-step")


@router.post("/account/two-step/keys")
@access(Access.USER)
def add_key(p: P, caller: FreshSignedIn, posted: Posted) -> Response:
    form = Form.from_posted(posted, keep=("name",))
    if not p.csrf_ok(posted):
        return _show(p, caller, status=403, webauthn_form=form.expired())
    name = form.need(posted, "name", "Name it, for example “YubiKey” or “work laptop”.")
    credential = parse_credential(posted)
    if credential is None and not form.invalid:
        form.fail(NEEDS_JAVASCRIPT)
    if credential is not None and not form.invalid:
        try:
            made = p.fd.call(webauthn.register_credential, caller.user_id, name, credential, p.ctx)
        except FrontdeskError as exc:
            form.error(exc)
            if "credential" in form.errors:  # the browser's answer did not verify: about the whole form
                form.message = form.errors.pop("credential")
        else:
            if made.recovery_codes is not None:
                return _show(p, caller, status=201, recovery_codes=made.recovery_codes, recovery_codes_why="first")
            notice = "passkey-added" if made.passkey else "key-added"
            return p.redirect(f"/account?notice={notice}#two-step")
    return _show(p, caller, status=form.status, webauthn_form=form)


@router.post("/account/two-step/keys/{credential_id:int}/remove")
@access(Access.USER)
def remove_key(p: P, caller: FreshSignedIn, credential_id: CredentialId, posted: Posted) -> Response:
    if not p.csrf_ok(posted):
        return _expired(p, caller)
    try:
        p.fd.call(webauthn.remove_credential, caller.user_id, credential_id, p.ctx)
    except NotFound:
        return p.redirect("/account?notice=key-gone#two-step")
    return p.redirect("/account?notice=key-removed#two-step")


@router.post("/account/two-step/recovery-codes")
@access(Access.USER)
def regenerate_codes(p: P, caller: FreshSignedIn, posted: Posted) -> Response:
    if not p.csrf_ok(posted):
        return _expired(p, caller)
    try:
        codes = p.fd.call(factors.regenerate_recovery_codes, caller.user_id, p.ctx)
    except FrontdeskError as exc:
        return _show(p, caller, status=400, two_step_banner=Form().error(exc))
    return _show(p, caller, recovery_codes=codes, recovery_codes_why="new")
