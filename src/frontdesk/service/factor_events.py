"""What a second-factor event implies beyond its own change: the audit row, the count in
/metrics and the notice email to the user (contract section 6). Each factor module calls these,
so every enrolment, removal and use is recorded, counted and told the same way.

The emails are notices only: they name the factor, when and from where, never a code or secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from frontdesk.errors import FrontdeskError, InvalidCode, InvalidCredentials, RateLimited, TokenInvalid
from frontdesk.metrics import SECOND_FACTOR_ENROLMENTS, SECOND_FACTOR_REMOVALS, SECOND_FACTOR_VERIFICATIONS
from frontdesk.service import audit, emails
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.devices import describe
from frontdesk.store import users as user_store

# how each method reads in a sentence of a notice email ("... an authenticator app was added")
LABELS = {"totp": "an authenticator app", "webauthn": "a security key or passkey"}


def _label(method: str, name: str | None) -> str:
    label = LABELS[method]
    return f'{label} ("{name}")' if name else label


def _notify(db: Session, deps: Deps, user_id: int, kind: str, ctx: RequestContext, **context: str) -> None:
    user = user_store.get(db, user_id)
    if user is None or user.is_deleted:
        return
    emails.send(
        db,
        deps,
        kind=kind,
        to=user.email,
        context={
            "name": user.name,
            "when": deps.clock.now().strftime("%Y-%m-%d %H:%M UTC"),
            "ip_address": ctx.ip_address or "unknown",
            "browser": describe(ctx.user_agent).browser if ctx.user_agent else "unknown",
            **context,
        },
    )


def enrolled(
    db: Session,
    deps: Deps,
    user_id: int,
    method: str,
    ctx: RequestContext,
    *,
    name: str | None = None,
    detail: str | None = None,
) -> None:
    """A factor became active: audited as `<method>.enrolled`, counted, and the user told."""
    _factor_changed(db, deps, user_id, method, ctx, "enrolled", name=name, detail=detail)


def removed(
    db: Session,
    deps: Deps,
    user_id: int,
    method: str,
    ctx: RequestContext,
    *,
    name: str | None = None,
    detail: str | None = None,
) -> None:
    """A factor was removed by its owner: audited as `<method>.removed`, counted, and the user told."""
    _factor_changed(db, deps, user_id, method, ctx, "removed", name=name, detail=detail)


_CHANGES = {
    "enrolled": (SECOND_FACTOR_ENROLMENTS, "second_factor_added"),
    "removed": (SECOND_FACTOR_REMOVALS, "second_factor_removed"),
}


def _factor_changed(
    db: Session,
    deps: Deps,
    user_id: int,
    method: str,
    ctx: RequestContext,
    change: str,
    *,
    name: str | None,
    detail: str | None,
) -> None:
    """One factor enrolled or removed: its audit event, its counter and its email, from `_CHANGES`."""
    counter, email_kind = _CHANGES[change]
    audit.record(db, deps, f"{method}.{change}", ctx, user_id=user_id, detail=detail)
    counter.labels(method).inc()
    _notify(db, deps, user_id, email_kind, ctx, factor=_label(method, name))


def codes_regenerated(db: Session, deps: Deps, user_id: int, ctx: RequestContext) -> None:
    """The user asked for a new set of recovery codes (the set made with a first factor is not news)."""
    audit.record(db, deps, "recovery_codes.regenerated", ctx, user_id=user_id)
    _notify(db, deps, user_id, "recovery_codes_regenerated", ctx)


def recovery_code_used(db: Session, deps: Deps, user_id: int, left: int, ctx: RequestContext) -> None:
    """A recovery code was used up: audited with the count left, and the user told that count."""
    audit.record(db, deps, "recovery_code.used", ctx, user_id=user_id, detail=f"left={left}")
    _notify(db, deps, user_id, "recovery_code_used", ctx, codes_left=str(left))


def all_reset(db: Session, deps: Deps, user_id: int, ctx: RequestContext, *, actor_id: int | None, detail: str) -> None:
    """An administrator removed every factor: audited with who did it, counted, and the user told
    (without the administrator's address or browser)."""
    audit.record(db, deps, "second_factors.reset", ctx, user_id=user_id, detail=f"{detail} by={actor_id}")
    SECOND_FACTOR_REMOVALS.labels("admin_reset").inc()
    user = user_store.get(db, user_id)
    if user is not None and not user.is_deleted:
        when = deps.clock.now().strftime("%Y-%m-%d %H:%M UTC")
        emails.send(db, deps, kind="second_factors_reset", to=user.email, context={"name": user.name, "when": when})


_OUTCOMES: dict[type[FrontdeskError], str] = {
    InvalidCode: "invalid_code",
    TokenInvalid: "invalid_token",
    RateLimited: "rate_limited",
    InvalidCredentials: "invalid_credentials",
}


@contextmanager
def counted(method: str) -> Iterator[None]:
    """Count the second-factor proof run inside by method (totp, recovery_code, webauthn,
    passkey) and outcome: success, or invalid_code, invalid_token, rate_limited, ... ."""
    try:
        yield
    except FrontdeskError as exc:
        SECOND_FACTOR_VERIFICATIONS.labels(method, _OUTCOMES.get(type(exc), "refused")).inc()
        raise
    SECOND_FACTOR_VERIFICATIONS.labels(method, "success").inc()
