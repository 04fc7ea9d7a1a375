"""The social sign-in flow: start it (state, nonce, PKCE), and check what comes back to the callback.

A flow is a row in `oauth_flows`, found by the digest of its `state`, usable once, for ten
minutes, and only by the browser holding the binding secret (a short-lived cookie). The callback
runs in three steps so no database transaction waits on the provider:

1. `claim_flow` (a transaction): end the flow, whatever happens next, and unseal its PKCE verifier;
2. `fetch_profile` (no database): `iss`, the code exchange, the ID token;
3. `social_accounts.finish_flow` (a transaction): sign in, create, link or refuse.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.errors import SocialSignInFailed
from frontdesk.models import OAuthFlow
from frontdesk.service import audit
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.oidc_client import Profile, ProviderClient
from frontdesk.store import identities as store

log = logging.getLogger(__name__)

FLOW_TTL = timedelta(minutes=10)
SEAL_PURPOSE = "oauth-pkce-verifier"
# sign_in: from the sign-in page; link: add the identity to `user_id`'s account; reauth: `user_id`
# signs in again through a provider linked to their account (prompt=login), for a fresh session
Purpose = Literal["sign_in", "link", "reauth"]
PURPOSES: tuple[Purpose, ...] = ("sign_in", "link", "reauth")


@dataclass(frozen=True, slots=True)
class StartedFlow:
    """Where to send the browser, and the binding secret for its cookie (shown once, never stored)."""

    url: str
    binding: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ClaimedFlow:
    """A flow the callback has ended: what it was for, and what checking the answer needs."""

    provider: str
    purpose: Purpose
    user_id: int | None
    next_path: str
    remember_device: bool
    started: datetime
    nonce_hash: bytes = field(repr=False)
    code_verifier: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CallbackParams:
    """The authorization response's query parameters that matter."""

    code: str | None = None
    state: str | None = None
    iss: str | None = None
    error: str | None = None


def start_flow(
    db: Session,
    deps: Deps,
    client: ProviderClient,
    *,
    redirect_uri: str,
    next_path: str,
    remember_device: bool,
    purpose: Purpose = "sign_in",
    user_id: int | None = None,
) -> StartedFlow:
    """Record a new flow and build the provider's authorization URL (PKCE S256, state, nonce)."""
    state, binding, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)  # 64 characters of the PKCE alphabet (RFC 7636: 43 to 128)
    url = client.authorization_url(
        redirect_uri, state=state, nonce=nonce, code_verifier=verifier, reauthenticate=purpose == "reauth"
    )
    now = deps.clock.now()
    store.add(
        db,
        OAuthFlow(
            state_hash=crypto.digest(state),
            binding_hash=crypto.digest(binding),
            nonce_hash=crypto.digest(nonce),
            verifier_box=crypto.seal_text(binding, SEAL_PURPOSE, verifier),
            provider=client.settings.name,
            purpose=purpose,
            user_id=user_id,
            next_path=next_path,
            remember_device=remember_device,
            created=now,
            expiry=now + FLOW_TTL,
        ),
    )
    log.info("oauth.started", extra={"provider": client.settings.name, "purpose": purpose, "user_id": user_id})
    return StartedFlow(url=url, binding=binding)


def claim_flow(db: Session, deps: Deps, provider: str, state: str | None, binding: str | None) -> ClaimedFlow:
    """End the flow named by `state` and return it, if this browser started it for this provider and
    it has not expired. Every refusal after the flow is found still ends it (the error keeps changes)."""
    if not state or len(state) > 200:
        raise SocialSignInFailed("no_state")
    now = deps.clock.now()
    flow = store.use_flow(db, crypto.digest(state), now)
    if flow is None:
        raise SocialSignInFailed("unknown_or_used_state")
    if flow.provider != provider:
        raise SocialSignInFailed("wrong_provider")
    if flow.expiry < now:
        raise SocialSignInFailed("expired")
    if not binding or len(binding) > 200 or not crypto.equals(crypto.digest(binding), flow.binding_hash):
        raise SocialSignInFailed("browser_binding")
    verifier = crypto.unseal_text(binding, SEAL_PURPOSE, flow.verifier_box)
    if verifier is None:
        raise SocialSignInFailed("browser_binding")
    purpose: Purpose = next((p for p in PURPOSES if p == flow.purpose), "sign_in")
    return ClaimedFlow(
        provider=flow.provider,
        purpose=purpose,
        user_id=flow.user_id,
        next_path=flow.next_path,
        remember_device=flow.remember_device,
        started=flow.created,
        nonce_hash=flow.nonce_hash,
        code_verifier=verifier,
    )


def fetch_profile(client: ProviderClient, claimed: ClaimedFlow, params: CallbackParams, redirect_uri: str) -> Profile:
    """Check the authorization response and learn who signed in (network only, no database)."""
    if params.error is not None:
        # access_denied (the person said no), or the provider's own error: nothing to exchange
        raise SocialSignInFailed(f"provider_{params.error}"[:64], "The sign-in was cancelled or refused.")
    client.check_response_issuer(params.iss)
    if not params.code or len(params.code) > 2048:
        raise SocialSignInFailed("no_code")
    tokens = client.exchange_code(params.code, redirect_uri, claimed.code_verifier)
    return client.profile(tokens, claimed.nonce_hash)


def record_refusal(db: Session, deps: Deps, provider: str, reason: str, ctx: RequestContext) -> None:
    """Audit a refused callback (the reason is a short word; nothing secret)."""
    audit.record(db, deps, "oauth.refused", ctx, detail=f"{provider}:{reason}"[:200])
