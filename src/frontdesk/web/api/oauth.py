"""Social sign-in routes (contract section 8): start, callback, and the caller's linked identities.

`start` and `callback` are browser navigations: they answer with redirects or a page, never JSON,
and never a 500 when the provider misbehaves. The browser-binding secret travels in a short-lived
HttpOnly cookie scoped to the provider's callback path.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.responses import RedirectResponse

from frontdesk.errors import NotFound, ProviderUnavailable, SocialSignInFailed
from frontdesk.metrics import SOCIAL_SIGN_INS
from frontdesk.runtime import Frontdesk
from frontdesk.service import identities, oauth, social_accounts
from frontdesk.service.oauth import CallbackParams, StartedFlow
from frontdesk.service.oidc_client import ProviderClient, ProviderClients
from frontdesk.settings import Settings
from frontdesk.web.cookies import set_login_cookies
from frontdesk.web.deps import FD, Access, Caller, Ctx, access
from frontdesk.web.errors import ErrorCode as C
from frontdesk.web.errors import responses
from frontdesk.web.ids import checked_id
from frontdesk.web.pages.nextpath import safe_next
from frontdesk.web.pages.page import P
from frontdesk.web.schemas import IdentityItem, IdentityListResponse, RedirectBody

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["social sign-in"])
BINDING_COOKIE = "frontdesk-oauth"
AUTH = (C.UNAUTHENTICATED, C.AMBIGUOUS_CREDENTIALS)
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


def redirect_uri(settings: Settings, provider: str) -> str:
    return settings.public_url + callback_path(provider)


def _set_binding(response: Response, settings: Settings, provider: str, started: StartedFlow) -> None:
    response.set_cookie(
        BINDING_COOKIE,
        started.binding,
        max_age=int(oauth.FLOW_TTL.total_seconds()),
        path=callback_path(provider),
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us, not on cross-site requests
    )


def _clear_binding(response: Response, settings: Settings, provider: str) -> None:
    response.set_cookie(
        BINDING_COOKIE,
        "",
        max_age=0,
        path=callback_path(provider),
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def _begin(
    fd: Frontdesk, client: ProviderClient, *, next_path: str, remember: bool, user_id: int | None = None
) -> StartedFlow:
    client.metadata()  # discovery before the transaction: no write waits on the network
    return fd.call(
        oauth.start_flow,
        client,
        redirect_uri=redirect_uri(fd.settings, client.settings.name),
        next_path=next_path,
        remember_device=remember,
        purpose="link" if user_id is not None else "sign_in",
        user_id=user_id,
    )


def _failure_page(page: P, provider: str, exc: SocialSignInFailed) -> Response:
    unavailable = isinstance(exc, ProviderUnavailable)
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
    _clear_binding(response, page.settings, provider)
    return response


@router.get("/oauth/{provider}/start", status_code=302, responses=responses(C.NOT_FOUND), include_in_schema=True)
@access(Access.OPEN)
def start(
    provider: str, request: Request, page: P, fd: FD, next: NextParam = None, remember_device: Flag = None
) -> Response:
    """Send the browser to the provider (302), with state, nonce and PKCE S256 kept server-side."""
    client = _client(request, provider)
    try:
        started = _begin(
            fd, client, next_path=safe_next(next, fd.settings), remember=remember_device in ("1", "true", "on")
        )
    except SocialSignInFailed as exc:
        return _failure_page(page, provider, exc)
    response = RedirectResponse(started.url, status_code=status.HTTP_302_FOUND, headers={"Cache-Control": "no-store"})
    _set_binding(response, fd.settings, provider, started)
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
    try:
        claimed = fd.call(oauth.claim_flow, provider, params.state, request.cookies.get(BINDING_COOKIE))
        profile = oauth.fetch_profile(client, claimed, params, redirect_uri(fd.settings, provider))
        outcome = fd.call(social_accounts.finish_flow, client.settings, claimed, profile, ctx)
    except SocialSignInFailed as exc:
        fd.call(oauth.record_refusal, provider, exc.reason, ctx)
        return _failure_page(page, provider, exc)
    SOCIAL_SIGN_INS.labels(provider, outcome.kind).inc()
    if outcome.kind in ("signed_in", "linked"):
        response: Response = RedirectResponse(
            outcome.next_path, status_code=status.HTTP_302_FOUND, headers={"Cache-Control": "no-store"}
        )
        if outcome.auth is not None:
            set_login_cookies(response, outcome.auth, fd.settings)
    else:
        title = "Sign in to link your account" if outcome.kind == "needs_link" else "Email address not confirmed"
        response = page.render("social_result.html", kind=outcome.kind, title=title, provider=outcome.provider_label)
    _clear_binding(response, fd.settings, provider)
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


@router.post("/identities/{identity}", response_model=RedirectBody, responses=responses(*AUTH, C.NOT_FOUND))
@access(Access.USER)
def start_linking(
    provider: ProviderName, request: Request, caller: Caller, fd: FD, response: Response, next: NextParam = None
) -> RedirectBody:
    """Start linking a provider to your account: send the browser to `redirect`; it comes back to
    `/account` (or `next`) with the provider linked."""
    client = _client(request, provider)
    started = _begin(fd, client, next_path=safe_next(next, fd.settings), remember=False, user_id=caller.user_id)
    _set_binding(response, fd.settings, provider, started)
    return RedirectBody(redirect=started.url)


@router.delete(
    "/identities/{identity}",  # no :int: a name here is a 400, not a 405 from the POST route
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(*AUTH, C.NOT_FOUND, C.LAST_SIGN_IN_METHOD, C.CSRF_FAILED),
)
@access(Access.USER)
def unlink(identity_id: IdentityIdParam, request: Request, caller: Caller, fd: FD, ctx: Ctx) -> Response:
    """Unlink a provider; refused (400 `last_sign_in_method`) when nothing else could sign you in."""
    identity_id = checked_id(identity_id, "identity")
    fd.call(identities.unlink_identity, caller, identity_id, _clients(request).providers, ctx)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
