"""The second step of a sign-in (`/login/second-step?challenge=`) and passkey sign-in (`/login/passkey`).

A first factor that passes for a user with a second factor (the password form, a sign-in link, a
password reset, a social sign-in) is sent to `/login/second-step?challenge=<token>[&next=]`. The
page offers the user's methods: a code from their authenticator app, a security key (with
`static/webauthn.js`), or a recovery code. Attempts are limited by the service, as for the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from frontdesk.errors import FrontdeskError, InvalidCode, InvalidCredentials, TokenInvalid
from frontdesk.service import second_factor
from frontdesk.web.deps import Access, access
from frontdesk.web.outcomes import counted
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.nextpath import safe_next
from frontdesk.web.pages.page import P
from frontdesk.web.pages.signin import Next, redirect_signed_in
from frontdesk.web.pages.two_step import parse_credential

router = APIRouter(include_in_schema=False)
MAX_CHALLENGE = 512
EXPIRED_TITLE = "This sign-in step has expired"
EXPIRED = "The second step of a sign-in works for 5 minutes, once. Sign in again to get a new one."
WRONG = {
    "totp": "That code is not right. Type the newest code from your authenticator app.",
    "recovery_code": "That recovery code is not right, or was already used.",
    "webauthn": "That security key or passkey was not accepted. Use one registered on this account.",
}
PASSKEY_REFUSED = "That passkey is not registered here (or was removed). Sign in with your password instead."


@dataclass(frozen=True, slots=True)
class Proof:
    """What a second-step form sent: a code typed (`totp`, `recovery_code`) or the browser's answer."""

    method: str
    code: str = ""
    credential: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Proof(method={self.method!r})"

    def of(self, method: str) -> str | None:
        return self.code if self.method == method else None


def proof_of(posted: Mapping[str, str]) -> Proof | None:
    """Which factor a second-step (or re-authentication) form sent, or None."""
    if "credential" in posted:
        credential = parse_credential(posted)
        return Proof("webauthn", credential=credential) if credential is not None else None
    for method in ("totp", "recovery_code"):
        if method in posted:
            return Proof(method, code=posted[method])
    return None


def _expired(p: P) -> Response:
    return p.render("error.html", status=400, title=EXPIRED_TITLE, message=EXPIRED)


def _page(p: P, challenge: str, target: str, form: Form, methods: list[str], used: str | None = None) -> Response:
    return p.show(
        "second_step.html",
        form,
        webauthn="webauthn" in methods,
        challenge=challenge,
        next=target,
        methods=methods,
        used=used,
    )


@router.get("/login/second-step")
@access(Access.OPEN)
def second_step_page(p: P, challenge: str = "", next_: Next = None) -> Response:
    methods = p.fd.read(second_factor.second_step_methods, challenge) if challenge else None
    if methods is None:
        return _expired(p)
    return _page(p, challenge, safe_next(next_, p.settings), Form(), methods)


@router.post("/login/second-step")
@access(Access.OPEN)
def second_step_submit(p: P, posted: Posted) -> Response:
    challenge = posted.get("challenge", "")[:MAX_CHALLENGE]
    target = safe_next(posted.get("next"), p.settings)
    form = Form()
    proof = proof_of(posted)
    used = proof.method if proof else None
    if not p.csrf_ok(posted):
        form.expired()
    elif proof is None:
        form.fail("Type the code, or use your security key.", 400)
    elif proof.credential is None and not proof.code.strip():
        form.need(posted, proof.method, "Type the code." if proof.method == "totp" else "Type a recovery code.")
    else:
        method = proof.method
        try:
            result = counted(
                "second_factor",
                lambda: p.fd.call(
                    second_factor.complete_second_factor,
                    challenge,
                    p.ctx,
                    totp_code=proof.of("totp"),
                    recovery_code=proof.of("recovery_code"),
                    webauthn_response=proof.credential,
                ),
            )
        except TokenInvalid:
            return _expired(p)
        except InvalidCode:
            form.fail(WRONG[method], 401, None if method == "webauthn" else method)
        except FrontdeskError as exc:
            form.error(exc)
        else:
            return redirect_signed_in(p, result, target)
    methods = p.fd.read(second_factor.second_step_methods, challenge) if challenge else None
    if methods is None:  # five wrong answers end the challenge
        return _expired(p)
    return _page(p, challenge, target, form, methods, used)


@router.post("/login/passkey")
@access(Access.OPEN)
def passkey_submit(p: P, posted: Posted) -> Response:
    target = safe_next(posted.get("next"), p.settings)
    form = Form()
    credential = parse_credential(posted)
    if not p.csrf_ok(posted):
        form.expired()
    elif credential is None:
        form.fail("Signing in with a passkey needs JavaScript. Sign in with your password instead.")
    else:
        remember = posted.get("remember_device") == "1"
        try:
            result = counted(
                "passkey", lambda: p.fd.call(second_factor.login_with_passkey, credential, remember, p.ctx)
            )
        except InvalidCredentials:
            form.fail(PASSKEY_REFUSED, 401)
        except FrontdeskError as exc:
            form.error(exc)
        else:
            return redirect_signed_in(p, result, target)
    return p.show("login.html", form, webauthn=True, next=target, notice=None)
