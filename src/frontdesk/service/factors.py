"""Rules shared by every second factor: who has one, which methods, what enrolment and removal imply."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from frontdesk.errors import InvalidInput
from frontdesk.service import factor_events, recovery
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.store import recovery_codes as code_store
from frontdesk.store import second_factors as second_factor_store
from frontdesk.store import totp as totp_store
from frontdesk.store import webauthn as webauthn_store

METHODS = ("totp", "webauthn", "recovery_code")


@dataclass(frozen=True, slots=True)
class CredentialView:
    """A security key or passkey as its owner sees it."""

    id: int
    name: str
    created: datetime
    last_used: datetime | None
    passkey: bool


@dataclass(frozen=True, slots=True)
class FactorOverview:
    """`GET /v1/second-factors`: what the user has enrolled (no secrets)."""

    totp: bool
    webauthn: list[CredentialView]
    recovery_codes_left: int


def has_second_factor(db: Session, deps: Deps, user_id: int) -> bool:
    """An active authenticator app or at least one WebAuthn credential (recovery codes alone don't count)."""
    return second_factor_store.has_any(db, user_id)


def methods(db: Session, deps: Deps, user_id: int) -> list[str]:
    """The ways this user can pass a second step, in the contract's order."""
    found: list[str] = []
    if totp_store.get(db, user_id, confirmed=True) is not None:
        found.append("totp")
    if webauthn_store.count_credentials(db, user_id) > 0:
        found.append("webauthn")
    if found and code_store.count_left(db, user_id) > 0:
        found.append("recovery_code")
    return found


def overview(db: Session, deps: Deps, user_id: int) -> FactorOverview:
    rows = webauthn_store.credentials_of(db, user_id)
    credentials = [CredentialView(c.id, c.name, c.created, c.last_used, c.passkey) for c in rows]
    return FactorOverview(
        totp=totp_store.get(db, user_id, confirmed=True) is not None,
        webauthn=credentials,
        recovery_codes_left=code_store.count_left(db, user_id),
    )


def after_enrolment(db: Session, deps: Deps, user_id: int, *, was_first: bool, ctx: RequestContext) -> list[str] | None:
    """Recovery codes come with the first second factor: returned here once, else None."""
    if not was_first:
        return None
    return recovery.replace_recovery_codes(db, deps, user_id, ctx)


def after_removal(db: Session, deps: Deps, user_id: int, ctx: RequestContext) -> None:
    """Removing the last second factor removes the recovery codes too."""
    if not has_second_factor(db, deps, user_id):
        recovery.remove_recovery_codes(db, deps, user_id, ctx)


def regenerate_recovery_codes(db: Session, deps: Deps, user_id: int, ctx: RequestContext) -> list[str]:
    """A new set of recovery codes, ending the old set; only for a user with a second factor."""
    if not has_second_factor(db, deps, user_id):
        raise InvalidInput("Recovery codes come with a second factor; set one up first.")
    codes = recovery.replace_recovery_codes(db, deps, user_id, ctx)
    factor_events.codes_regenerated(db, deps, user_id, ctx)
    return codes
