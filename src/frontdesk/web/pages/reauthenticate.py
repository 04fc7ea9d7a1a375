"""`/reauthenticate?next=`: prove a factor again before a sensitive form (contract section 6).

`FreshSignedIn` sends a signed-in user whose session is older than FRONTDESK_REAUTH_MAX_AGE here.
A user without a second factor types their password; a user with one uses it (a code from the
app, a security key or passkey, or a recovery code): a password alone is not enough for them.
On success the session is fresh and the browser goes on to `next` (limited as every `?next=`).
A user without a second factor may also sign in again through a provider linked to their account
(the only way for an account made by social sign-in that has no password): a link to
`/v1/oauth/{provider}/start?reauth=1&next=`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.responses import Response

from frontdesk.errors import FrontdeskError, InvalidCode, InvalidCredentials
from frontdesk.service import identities, reauth
from frontdesk.service.context import Principal
from frontdesk.service.oidc_client import ProviderClients
from frontdesk.web.deps import Access, access
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.nextpath import safe_next
from frontdesk.web.pages.page import P, SignedIn
from frontdesk.web.pages.second_step import WRONG, proof_of
from frontdesk.web.pages.signin import Next

router = APIRouter(include_in_schema=False)


def _page(p: P, caller: Principal, target: str, form: Form, used: str | None = None) -> Response:
    methods = p.fd.read(reauth.reauthentication_methods, caller)
    clients: ProviderClients = p.request.app.state.oidc
    query = urlencode({"reauth": "1", "next": target})
    providers = [
        (label, f"/v1/oauth/{name}/start?{query}")
        for name, label in p.fd.read(identities.reauthentication_providers, caller, clients.providers)
    ]
    return p.show(
        "reauthenticate.html",
        form,
        webauthn="webauthn" in methods,
        caller=caller,
        next=target,
        methods=methods,
        providers=providers,
        used=used,
    )


@router.get("/reauthenticate")
@access(Access.USER)
def reauthenticate_page(p: P, caller: SignedIn, next_: Next = None) -> Response:
    return _page(p, caller, safe_next(next_, p.settings), Form())


@router.post("/reauthenticate")
@access(Access.USER)
def reauthenticate_submit(p: P, caller: SignedIn, posted: Posted) -> Response:
    target = safe_next(posted.get("next"), p.settings)
    form = Form()
    proof = proof_of(posted)
    password = posted.get("password") if "password" in posted else None
    used = "password" if password is not None else proof.method if proof else None
    if not p.csrf_ok(posted):
        form.expired()
    elif password is not None:
        if form.need(posted, "password", "Enter your password.").strip():
            try:
                p.fd.call(reauth.reauthenticate, caller, p.ctx, password=password)
            except InvalidCredentials:
                form.fail("That is not your password.", 401, "password")
            except FrontdeskError as exc:
                form.error(exc)
            else:
                return p.redirect(target)
    elif proof is None:
        form.fail("Type the code, or use your security key.", 400)
    elif proof.credential is None and not proof.code.strip():
        form.need(posted, proof.method, "Type the code." if proof.method == "totp" else "Type a recovery code.")
    else:
        try:
            p.fd.call(
                reauth.reauthenticate,
                caller,
                p.ctx,
                totp_code=proof.of("totp"),
                recovery_code=proof.of("recovery_code"),
                webauthn_response=proof.credential,
            )
        except InvalidCode:
            form.fail(WRONG[proof.method], 401, None if proof.method == "webauthn" else proof.method)
        except FrontdeskError as exc:
            form.error(exc)
        else:
            return p.redirect(target)
    return _page(p, caller, target, form, used)
