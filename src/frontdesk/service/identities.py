"""A signed-in user's linked sign-in providers: list them, unlink one (never the last way in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from frontdesk.errors import LastSignInMethod, NotFound
from frontdesk.oidc_settings import OidcProviders
from frontdesk.service import audit, emails, factors
from frontdesk.service.context import Principal, RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.devices import describe
from frontdesk.store import identities as store
from frontdesk.store import users as user_store


@dataclass(frozen=True, slots=True)
class IdentityView:
    id: int
    provider: str
    email: str | None
    created: datetime
    last_used: datetime


def list_identities(db: Session, _deps: Deps, user_id: int) -> list[IdentityView]:
    return [IdentityView(i.id, i.provider, i.email, i.created, i.last_used) for i in store.list_for_user(db, user_id)]


def unlink_identity(
    db: Session, deps: Deps, principal: Principal, identity_id: int, providers: OidcProviders, ctx: RequestContext
) -> None:
    """Remove one of the caller's identities, unless nothing else could then sign the account in
    (no password and no other identity): LastSignInMethod. The owner is told by email."""
    user = user_store.get_for_update(db, principal.user_id)  # serialises concurrent unlinks
    identity = next((i for i in store.list_for_user(db, principal.user_id) if i.id == identity_id), None)
    if user is None or identity is None:
        raise NotFound("identity")
    others = store.count_for_user(db, user.id) - 1
    if user.hashed_password is None and others == 0:
        raise LastSignInMethod()
    provider = providers.get(identity.provider)
    store.remove(db, identity)
    now = deps.clock.now()
    emails.send(
        db,
        deps,
        kind="identity_unlinked",
        to=user.email,
        context={
            "name": user.name,
            "provider": provider.label if provider else identity.provider,
            "when": now.strftime("%Y-%m-%d %H:%M UTC"),
            "ip_address": ctx.ip_address or "unknown",
            "browser": describe(ctx.user_agent).browser if ctx.user_agent else "unknown",
        },
    )
    audit.record(db, deps, "identity.unlinked", ctx, user_id=user.id, detail=identity.provider)


def reauthentication_providers(
    db: Session, deps: Deps, principal: Principal, providers: OidcProviders
) -> list[tuple[str, str]]:
    """The configured OpenID providers linked to the caller's account, as (name, label): signing
    in again through one of them (`/v1/oauth/{name}/start?reauth=1`) makes the session fresh.
    Empty for a user with a second factor, who re-authenticates with it instead."""
    if factors.has_second_factor(db, deps, principal.user_id):
        return []
    linked = {i.provider for i in store.list_for_user(db, principal.user_id)}
    return [(p.name, p.label) for p in providers if p.name in linked and p.kind == "oidc"]
