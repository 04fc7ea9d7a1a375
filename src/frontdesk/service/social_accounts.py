"""After a valid social sign-in callback: sign in, create an account, link, or ask to link (contract section 8).

Identities are found by (issuer, subject) only. An email decides something only when the provider
says it verified it, and joins an existing account only when the provider is trusted for email.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from frontdesk.errors import (
    EmailTaken,
    InvalidEmail,
    InvalidInput,
    SecondFactorRequired,
    SocialSignInFailed,
    UsernameTaken,
)
from frontdesk.models import Identity, User
from frontdesk.oidc_settings import ProviderSettings
from frontdesk.service import audit, emails
from frontdesk.service.accounts import create_user
from frontdesk.service.challenges import needs_second_factor, require_second_factor
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.devices import describe
from frontdesk.service.identity import USERNAME_RULE, normalise_email
from frontdesk.service.oauth import ClaimedFlow
from frontdesk.service.oidc_client import ID_TOKEN_LEEWAY, Profile
from frontdesk.service.results import AuthResult
from frontdesk.service.signin import open_session
from frontdesk.store import identities as store
from frontdesk.store import users as user_store

USERNAME_TRIES = 20
# the factor a social sign-in proves, as sessions (`factors`) and second-factor challenges name it
FIRST_FACTOR = "social"

OutcomeKind = Literal["signed_in", "second_factor", "linked", "needs_link", "email_unverified"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the callback ends in. `auth` is set for "signed_in"; `second_step` for "second_factor"
    (a user with a second factor: no session yet, the challenge for the second step). The other
    kinds change nothing (except "linked", which added the identity to the flow's account)."""

    kind: OutcomeKind
    next_path: str
    provider_label: str
    auth: AuthResult | None = None
    second_step: SecondFactorRequired | None = field(default=None, repr=False)


def finish_flow(
    db: Session, deps: Deps, provider: ProviderSettings, claimed: ClaimedFlow, profile: Profile, ctx: RequestContext
) -> Outcome:
    identity = store.get_by_subject(db, profile.issuer, profile.subject)
    if claimed.purpose == "link":
        return _link_to_flow_user(db, deps, provider, claimed, profile, identity, ctx)
    if claimed.purpose == "reauth":
        return _sign_in_again(db, deps, provider, claimed, profile, identity, ctx)
    if identity is not None:
        user = user_store.get(db, identity.user_id)
        if user is None or not user.can_sign_in:
            raise SocialSignInFailed("account_cannot_sign_in", "This account cannot sign in.")
        _touch(deps, identity, profile)
        return _signed_in(db, deps, provider, claimed, user, ctx, "identity")
    email_key = _verified_email_key(profile)
    if email_key is None:
        # Unverified (or no) email: never create, never link, and say the same whether or not
        # an account has that address.
        audit.record(db, deps, "oauth.email_unverified", ctx, detail=provider.name)
        return Outcome("email_unverified", claimed.next_path, provider.label)
    existing = user_store.get_by_email_key(db, email_key)
    if existing is None:
        user = _create_account(db, deps, profile, ctx)
        _add_identity(db, deps, provider, user, profile)
        audit.record(db, deps, "identity.linked", ctx, user_id=user.id, detail=f"{provider.name}:new_account")
        return _signed_in(db, deps, provider, claimed, user, ctx, "new_account")
    if not provider.trust_email or not existing.can_sign_in:
        audit.record(db, deps, "oauth.needs_link", ctx, detail=provider.name)
        return Outcome("needs_link", claimed.next_path, provider.label)
    _add_identity(db, deps, provider, existing, profile)
    _notify(db, deps, existing, provider, ctx, kind="identity_linked")
    audit.record(db, deps, "identity.linked", ctx, user_id=existing.id, detail=f"{provider.name}:trusted_email")
    return _signed_in(db, deps, provider, claimed, existing, ctx, "trusted_email")


def _link_to_flow_user(
    db: Session,
    deps: Deps,
    provider: ProviderSettings,
    claimed: ClaimedFlow,
    profile: Profile,
    identity: Identity | None,
    ctx: RequestContext,
) -> Outcome:
    user = user_store.get(db, claimed.user_id) if claimed.user_id is not None else None
    if user is None or not user.can_sign_in:
        raise SocialSignInFailed("link_account_gone")
    if identity is not None and identity.user_id != user.id:
        audit.record(db, deps, "identity.link_refused", ctx, user_id=user.id, detail=f"{provider.name}:in_use")
        raise SocialSignInFailed(
            "identity_in_use", f"This {provider.label} account is already linked to another account."
        )
    if identity is None:
        _add_identity(db, deps, provider, user, profile)
        _notify(db, deps, user, provider, ctx, kind="identity_linked")
        audit.record(db, deps, "identity.linked", ctx, user_id=user.id, detail=provider.name)
    else:
        _touch(deps, identity, profile)
    return Outcome("linked", claimed.next_path, provider.label)


def _sign_in_again(
    db: Session,
    deps: Deps,
    provider: ProviderSettings,
    claimed: ClaimedFlow,
    profile: Profile,
    identity: Identity | None,
    ctx: RequestContext,
) -> Outcome:
    """A signed-in user re-authenticating through a provider linked to their account (the flow
    asked for `prompt=login`, `max_age=0`): a new session, fresh, if the identity is theirs and the
    provider says the person signed in there after the flow began (`auth_time`)."""
    if identity is None or identity.user_id != claimed.user_id:
        raise SocialSignInFailed(
            "reauth_other_identity", f"That {provider.label} account is not linked to the account you are signed in to."
        )
    if profile.auth_time is None or profile.auth_time < claimed.started.timestamp() - ID_TOKEN_LEEWAY:
        raise SocialSignInFailed("reauth_not_fresh", f"{provider.label} did not ask you to sign in again. Try again.")
    user = user_store.get(db, identity.user_id)
    if user is None or not user.can_sign_in:
        raise SocialSignInFailed("account_cannot_sign_in", "This account cannot sign in.")
    _touch(deps, identity, profile)
    return _signed_in(db, deps, provider, claimed, user, ctx, "reauth")


def _signed_in(
    db: Session,
    deps: Deps,
    provider: ProviderSettings,
    claimed: ClaimedFlow,
    user: User,
    ctx: RequestContext,
    via: str,
) -> Outcome:
    """The provider proved the first factor (`social`): a session, or for a user with a second
    factor a challenge for the second step and no session (contract sections 6 and 8)."""
    audit.record(db, deps, "oauth.succeeded", ctx, user_id=user.id, detail=f"{via}:{provider.name}")
    if needs_second_factor(db, deps, user.id):
        challenge = require_second_factor(
            db, deps, user, ctx, purpose="login", first_factor=FIRST_FACTOR, remember_device=claimed.remember_device
        )
        return Outcome("second_factor", claimed.next_path, provider.label, second_step=challenge)
    result = open_session(db, deps, user, long_lived=claimed.remember_device, factors=(FIRST_FACTOR,), ctx=ctx)
    return Outcome("signed_in", claimed.next_path, provider.label, result)


def _verified_email_key(profile: Profile) -> str | None:
    if profile.email is None or not profile.email_verified:
        return None
    try:
        return normalise_email(profile.email)[1]
    except InvalidEmail:
        return None


def _touch(deps: Deps, identity: Identity, profile: Profile) -> None:
    identity.last_used = deps.clock.now()
    if profile.email is not None and profile.email_verified:
        identity.email = profile.email[:320]


def _add_identity(db: Session, deps: Deps, provider: ProviderSettings, user: User, profile: Profile) -> Identity:
    now = deps.clock.now()
    identity = Identity(
        user_id=user.id,
        provider=provider.name,
        issuer=profile.issuer,
        subject=profile.subject,
        email=profile.email[:320] if profile.email and profile.email_verified else None,
        created=now,
        last_used=now,
    )
    try:
        with db.begin_nested():
            store.add(db, identity)
    except IntegrityError:
        # a concurrent callback linked this (issuer, subject) first
        raise SocialSignInFailed("identity_race", "Try signing in again.") from None
    return identity


def username_base(profile: Profile) -> str:
    """A username from `preferred_username` or the email's local part, fitted to the username rule."""
    for candidate in (profile.preferred_username, (profile.email or "").partition("@")[0]):
        if not candidate:
            continue
        ascii_form = unicodedata.normalize("NFKD", candidate).encode("ascii", "ignore").decode().lower()
        cleaned = re.sub(r"[^a-z0-9_]+", "_", ascii_form).strip("_")
        cleaned = re.sub(r"^[^a-z]+", "", cleaned)[:24].rstrip("_")
        if len(cleaned) >= 3 and USERNAME_RULE.fullmatch(cleaned):
            return cleaned
    return "user"


def _username_candidates(base: str) -> list[str]:
    """`base`, then `base2` ... `base{USERNAME_TRIES}`, then random suffixes (all within 32 characters)."""
    names = [base] if len(base) >= 3 else []
    names += [f"{base}{n}" for n in range(2, USERNAME_TRIES + 1)]
    names += [f"{base}_{secrets.token_hex(3)}" for _ in range(3)]
    return names


def _create_account(db: Session, deps: Deps, profile: Profile, ctx: RequestContext) -> User:
    if profile.email is None:  # unreachable: only a verified email makes an account
        raise ValueError("a new account needs the provider's verified email")
    base = username_base(profile)
    name = (profile.name or base).strip()[:200] or base
    for username in _username_candidates(base):
        if user_store.get_by_username_key(db, username) is not None:
            continue
        try:
            return create_user(db, deps, email=profile.email, username=username, password=None, name=name, ctx=ctx)
        except UsernameTaken:
            continue  # taken by a concurrent signup since we looked
        except EmailTaken:
            raise SocialSignInFailed("email_race", "Try signing in again.") from None
        except InvalidInput:
            name = base  # a provider-supplied name we refuse (control characters); the username will do
    raise SocialSignInFailed("no_username")


def _notify(db: Session, deps: Deps, user: User, provider: ProviderSettings, ctx: RequestContext, *, kind: str) -> None:
    now = deps.clock.now()
    emails.send(
        db,
        deps,
        kind=kind,
        to=user.email,
        context={
            "name": user.name,
            "provider": provider.label,
            "when": now.strftime("%Y-%m-%d %H:%M UTC"),
            "ip_address": ctx.ip_address or "unknown",
            "browser": describe(ctx.user_agent).browser if ctx.user_agent else "unknown",
        },
    )
