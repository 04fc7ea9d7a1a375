"""Social sign-in routes (contract section 8): start, callback, and the caller's linked identities.

`start` and `callback` are browser navigations: they answer with redirects or a page, never JSON,
and never a 500 when the provider misbehaves. The browser-binding secret travels in a short-lived
HttpOnly cookie scoped to the provider's callback path. A provider set to `form_post` (Apple)
sends the browser back with a cross-site form POST: for it the callback also takes POST (exempt
from the origin check, see `web/app.py`; the state and binding checks are the same), and the
binding cookie is `SameSite=None` (with `Secure`) so that the POST carries it.

A user with a second factor is sent from the callback to `/login/second-step?challenge=` with no
session; `start?reauth=1` from a signed-in browser signs its user in again through the provider
(`prompt=login`), for a fresh session (docs/step-up.md).
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.responses import RedirectResponse

from frontdesk.errors import NotFound, ProviderUnavailable, SocialSignInFailed
from frontdesk.metrics import SOCIAL_SIGN_INS
from frontdesk.oidc_settings import OidcProviders
from frontdesk.runtime import Frontdesk
from frontdesk.service import identities, oauth, social_accounts
from frontdesk.service.context import Principal, RequestContext
from frontdesk.service.oauth import CallbackParams, StartedFlow
from frontdesk.service.oidc_client import ProviderClient, ProviderClients
from frontdesk.settings import Settings
from frontdesk.web.authn import identify
from frontdesk.web.cookies import end_replaced_session, set_login_cookies
from frontdesk.web.deps import FD, Access, Caller, Ctx, Fresh, access
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.errors import responses
from frontdesk.web.ids import checked_id
from frontdesk.web.pages.forms import Posted
from frontdesk.web.pages.nextpath import DEFAULT_NEXT, safe_next
from frontdesk.web.pages.page import P
from frontdesk.web.schemas import IdentityItem, IdentityListResponse, RedirectBody

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["social sign-in"])
BINDING_COOKIE = "frontdesk-oauth"
AUTH = (C.UNAUTHENTICATED, C.AMBIGUOUS_CREDENTIALS)
# linking and unlinking need a fresh cookie session (an API key: 403 forbidden)
FRESH = (*AUTH, C.FORBIDDEN, C.REAUTHENTICATION_REQUIRED)
SECOND_STEP_PAGE = "/login/second-step"
Flag = Annotated[str | None, Query(max_length=8)]
NextParam = Annotated[str | None, Query(max_length=4096)]


def _clients(request: Request) -> ProviderClients:
    clients: ProviderClients = request.app.state.oidc
    return clients


def _client(request: Request, provider: str) -> ProviderClient:
    client = _clients(request).get(provider)
    if client is None:
        raise NotFound("sign-in provider")
    return client


def callback_path(provider: str) -> str:
    return f"/v1/oauth/{provider}/callback"


def form_post_paths(providers: OidcProviders) -> frozenset[str]:
    """The callbacks a provider answers with a cross-site form POST: exempt from the origin check
    (the state, single use and bound to this browser, is their CSRF defence, RFC 6749 10.12)."""
    return frozenset(callback_path(p.name) for p in providers if p.response_mode == "form_post")


def redirect_uri(settings: Settings, provider: str) -> str:
    return settings.public_url + callback_path(provider)


def _same_site(client: ProviderClient | None, settings: Settings) -> Literal["lax", "none"]:
    """Lax: sent on the provider's top-level GET redirect back to us, not on cross-site requests.
    A form_post provider's answer is a cross-site POST, which only carries a `SameSite=None`
    cookie, and browsers take those only with `Secure` (so over plain-HTTP development it stays Lax)."""
    form_post = client is not None and client.settings.response_mode == "form_post"
    return "none" if form_post and settings.secure_cookies else "lax"


def _set_binding(response: Response, settings: Settings, client: ProviderClient, started: StartedFlow) -> None:
    response.set_cookie(
        BINDING_COOKIE,
        started.binding,
        max_age=int(oauth.FLOW_TTL.total_seconds()),
        path=callback_path(client.settings.name),
        secure=settings.secure_cookies,
        httponly=True,
        samesite=_same_site(client, settings),
    )


def _clear_binding(response: Response, settings: Settings, provider: str, client: ProviderClient | None) -> None:
    response.set_cookie(
        BINDING_COOKIE,
        "",
        max_age=0,
        path=callback_path(provider),
        secure=settings.secure_cookies,
        httponly=True,
        samesite=_same_site(client, settings),
    )


def _begin(
    fd: Frontdesk,
    client: ProviderClient,
    *,
    next_path: str,
    remember: bool,
    purpose: oauth.Purpose = "sign_in",
    user_id: int | None = None,
) -> StartedFlow:
    client.metadata()  # discovery before the transaction: no write waits on the network
    return fd.call(
        oauth.start_flow,
        client,
        redirect_uri=redirect_uri(fd.settings, client.settings.name),
        next_path=next_path,
        remember_device=remember,
        purpose=purpose,
        user_id=user_id,
    )


def _failure_page(page: P, provider: str, exc: SocialSignInFailed, client: ProviderClient | None = None) -> Response:
    unavailable = isinstance(exc, ProviderUnavailable)
    # one line per refusal or outage: the provider and a short reason, never a token or code
    log.warning("oauth.failed", extra={"provider": provider, "reason": exc.reason})
    SOCIAL_SIGN_INS.labels(provider, exc.reason[:40]).inc()
    title = "The sign-in provider is not answering" if unavailable else "That sign-in did not work"
    configured = _clients(page.request).providers.get(provider)
    response = page.render(
        "social_result.html",
        status=502 if unavailable else 400,
        kind="error",
        title=title,
        message=str(exc),
        reason=exc.reason,  # the page words the common ones (cancelled, expired, bad state)
        provider=configured.label if configured else provider,
    )
    _clear_binding(response, page.settings, provider, client)
    return response


def _signed_in_browser(request: Request, fd: Frontdesk) -> Principal | None:
    """The session this browser's cookie holds, if valid (pages never take bearer tokens)."""
    caller = identify(fd, request.scope["headers"], bearer=False)
    return caller if isinstance(caller, Principal) else None


@router.get("/oauth/{provider}/start", status_code=302, responses=responses(C.NOT_FOUND), include_in_schema=True)
@access(Access.OPEN)
def start(
    provider: str,
    request: Request,
    page: P,
    fd: FD,
    next: NextParam = None,
    remember_device: Flag = None,
    reauth: Flag = None,
) -> Response:
    """Send the browser to the provider (302), with state, nonce and PKCE S256 kept server-side.

    `reauth=1` from a signed-in browser: sign its user in again through this provider, which is
    asked to make the person sign in anew (`prompt=login`); the callback accepts only an identity
    linked to that user, and a new sign-in at the provider (`auth_time`), and makes a fresh session."""
    client = _client(request, provider)
    purpose: oauth.Purpose = "sign_in"
    user_id: int | None = None
    if reauth in ("1", "true", "on") and client.settings.kind == "oidc":
        caller = _signed_in_browser(request, fd)
        if caller is not None:
            purpose, user_id = "reauth", caller.user_id
    try:
        started = _begin(
            fd,
            client,
            next_path=safe_next(next, fd.settings),
            remember=remember_device in ("1", "true", "on"),
            purpose=purpose,
            user_id=user_id,
        )
    except SocialSignInFailed as exc:
        return _failure_page(page, provider, exc, client)
    response = RedirectResponse(started.url, status_code=status.HTTP_302_FOUND, headers={"Cache-Control": "no-store"})
    _set_binding(response, fd.settings, client, started)
    return response


@router.get("/oauth/{provider}/callback", status_code=302, responses=responses(C.NOT_FOUND))
@access(Access.OPEN)
def callback(provider: str, request: Request, page: P, fd: FD, ctx: Ctx) -> Response:
    """The provider's answer: check it, then sign in, create, link, or show why not (contract section 8)."""
    client = _client(request, provider)
    query = request.query_params
    params = CallbackParams(
        code=query.get("code"), state=query.get("state"), iss=query.get("iss"), error=query.get("error")
    )
    return _finish(request, page, fd, ctx, client, params)


@router.post("/oauth/{provider}/callback", status_code=302, responses=responses(C.NOT_FOUND))
@access(Access.OPEN)
def callback_form_post(provider: str, request: Request, page: P, fd: FD, ctx: Ctx, posted: Posted) -> Response:
    """The provider's answer as a form POST (`response_mode=form_post`, Apple): only for a provider
    set to answer so; the same checks as the GET."""
    client = _client(request, provider)
    if client.settings.response_mode != "form_post":
        return _failure_page(page, provider, SocialSignInFailed("unexpected_form_post"), client)
    params = CallbackParams(
        code=posted.get("code"), state=posted.get("state"), iss=posted.get("iss"), error=posted.get("error")
    )
    return _finish(request, page, fd, ctx, client, params)


def _finish(
    request: Request, page: P, fd: Frontdesk, ctx: RequestContext, client: ProviderClient, params: CallbackParams
) -> Response:
    provider = client.settings.name
    try:
        claimed = fd.call(oauth.claim_flow, provider, params.state, request.cookies.get(BINDING_COOKIE))
        profile = oauth.fetch_profile(client, claimed, params, redirect_uri(fd.settings, provider))
        outcome = fd.call(social_accounts.finish_flow, client.settings, claimed, profile, ctx)
    except SocialSignInFailed as exc:
        fd.call(oauth.record_refusal, provider, exc.reason, ctx)
        return _failure_page(page, provider, exc, client)
    SOCIAL_SIGN_INS.labels(provider, outcome.kind).inc()
    no_store = {"Cache-Control": "no-store"}
    response: Response
    if outcome.kind == "second_factor" and outcome.second_step is not None:
        # no session yet: the hosted second step finishes the sign-in (and goes on to `next`)
        query = {"challenge": outcome.second_step.challenge}
        if outcome.next_path != DEFAULT_NEXT:
            query["next"] = outcome.next_path
        target = f"{SECOND_STEP_PAGE}?{urlencode(query)}"
        response = RedirectResponse(target, status_code=status.HTTP_302_FOUND, headers=no_store)
    elif outcome.kind in ("signed_in", "linked"):
        response = RedirectResponse(outcome.next_path, status_code=status.HTTP_302_FOUND, headers=no_store)
        if outcome.auth is not None:
            end_replaced_session(fd, request.scope["headers"], outcome.auth, ctx)
            set_login_cookies(response, outcome.auth, fd.settings)
    else:
        title = "Sign in to link your account" if outcome.kind == "needs_link" else "Email address not confirmed"
        response = page.render("social_result.html", kind=outcome.kind, title=title, provider=outcome.provider_label)
    _clear_binding(response, fd.settings, provider, client)
    return response


@router.get("/identities", response_model=IdentityListResponse, responses=responses(*AUTH))
@access(Access.USER)
def list_identities(caller: Caller, fd: FD) -> IdentityListResponse:
    """Your linked sign-in providers."""
    views = fd.read(identities.list_identities, caller.user_id)
    return IdentityListResponse(identities=[IdentityItem.model_validate(v, from_attributes=True) for v in views])


# POST and DELETE share one path template (`{identity}`: a provider's name for POST, a linked
# identity's id for DELETE): OpenAPI forbids two templates that differ only in their names, and
# with two the document's Allow header for /v1/identities/<x> disagreed with both of them.
ProviderName = Annotated[str, Path(alias="identity", description="A provider's name (FRONTDESK_OIDC_PROVIDERS).")]
IdentityIdParam = Annotated[int, Path(alias="identity", description="A linked identity's id (GET /v1/identities).")]


@router.post(
    "/identities/{identity}", response_model=RedirectBody, responses=responses(*FRESH, C.NOT_FOUND, C.CSRF_FAILED)
)
@access(Access.USER)
def start_linking(
    provider: ProviderName, request: Request, caller: Fresh, fd: FD, response: Response, next: NextParam = None
) -> RedirectBody:
    """Start linking a provider to your account (a fresh session): send the browser to `redirect`;
    it comes back to `/account` (or `next`) with the provider linked."""
    client = _client(request, provider)
    started = _begin(
        fd, client, next_path=safe_next(next, fd.settings), remember=False, purpose="link", user_id=caller.user_id
    )
    _set_binding(response, fd.settings, client, started)
    return RedirectBody(redirect=started.url)


@router.delete(
    "/identities/{identity}",  # no :int: a name here is a 400, not a 405 from the POST route
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*FRESH, C.NOT_FOUND, C.LAST_SIGN_IN_METHOD, C.CSRF_FAILED),
)
@access(Access.USER)
def unlink(identity_id: IdentityIdParam, request: Request, caller: Fresh, fd: FD, ctx: Ctx) -> Response:
    """Unlink a provider (a fresh session); refused (400 `last_sign_in_method`) when nothing else
    could sign you in."""
    identity_id = checked_id(identity_id, "identity")
    fd.call(identities.unlink_identity, caller, identity_id, _clients(request).providers, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
