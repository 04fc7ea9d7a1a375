"""After a valid social sign-in callback: sign in, create an account, link, or ask to link (contract section 8).

Identities are found by (issuer, subject) only. An email decides something only when the provider
says it verified it, and joins an existing account only when the provider is trusted for email.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from frontdesk.errors import EmailTaken, InvalidEmail, InvalidInput, SocialSignInFailed, UsernameTaken
from frontdesk.models import Identity, User
from frontdesk.oidc_settings import ProviderSettings
from frontdesk.service import audit, emails
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.devices import describe
from frontdesk.service.identity import USERNAME_RULE, normalise_email
from frontdesk.service.oauth import ClaimedFlow
from frontdesk.service.oidc_client import Profile
from frontdesk.service.results import AuthResult
from frontdesk.service.signin import open_session
from frontdesk.store import identities as store
from frontdesk.store import users as user_store

USERNAME_TRIES = 20

OutcomeKind = Literal["signed_in", "linked", "needs_link", "email_unverified"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the callback ends in. `auth` is set for "signed_in"; the other kinds change nothing
    (except "linked", which added the identity to the flow's account)."""

    kind: OutcomeKind
    next_path: str
    provider_label: str
    auth: AuthResult | None = None


def finish_flow(
    db: Session, deps: Deps, provider: ProviderSettings, claimed: ClaimedFlow, profile: Profile, ctx: RequestContext
) -> Outcome:
    identity = store.get_by_subject(db, profile.issuer, profile.subject)
    if claimed.purpose == "link":
        return _link_to_flow_user(db, deps, provider, claimed, profile, identity, ctx)
    if identity is not None:
        user = user_store.get(db, identity.user_id)
        if user is None or not user.can_sign_in:
            raise SocialSignInFailed("account_cannot_sign_in", "This account cannot sign in.")
        _touch(deps, identity, profile)
        return _signed_in(db, deps, provider, claimed, user, ctx, "oidc")
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
        return _signed_in(db, deps, provider, claimed, user, ctx, "oidc_new")
    if not provider.trust_email or not existing.can_sign_in:
        audit.record(db, deps, "oauth.needs_link", ctx, detail=provider.name)
        return Outcome("needs_link", claimed.next_path, provider.label)
    _add_identity(db, deps, provider, existing, profile)
    _notify(db, deps, existing, provider, ctx, kind="identity_linked")
    audit.record(db, deps, "identity.linked", ctx, user_id=existing.id, detail=f"{provider.name}:trusted_email")
    return _signed_in(db, deps, provider, claimed, existing, ctx, "oidc_email")


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


def _signed_in(
    db: Session,
    deps: Deps,
    provider: ProviderSettings,
    claimed: ClaimedFlow,
    user: User,
    ctx: RequestContext,
    via: str,
) -> Outcome:
    # TODO(second factors): a user with a second factor goes to the second step instead (contract 8)
    result = open_session(
        db, deps, user, long_lived=claimed.remember_device, factors=(), ctx=ctx, detail=f"{via}:{provider.name}"
    )
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
