"""Everything frontdesk holds about a user, as one JSON-ready document (contract section 7): the
right of access. Secrets (token hashes, the password hash, TOTP secrets, public keys, email
bodies) are never part of it; everything else about the person is.

Each section reads one table; tests/service/test_export.py compares the sections with the tables
(from the metadata), so a table added later can't be left out silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from frontdesk.errors import InvalidCredentials
from frontdesk.models import (
    AccountRestoreToken,
    AuthEvent,
    EmailChangeToken,
    EmailRevertToken,
    Identity,
    LoginToken,
    NewDeviceNotice,
    OAuthFlow,
    PasswordResetToken,
    RecoveryCode,
    SecondFactorChallenge,
    SignInDevice,
    TotpFactor,
    User,
    UserSession,
    WebAuthnChallenge,
    WebAuthnCredential,
)
from frontdesk.service.context import Principal
from frontdesk.service.deps import Deps
from frontdesk.service.devices import describe, locate
from frontdesk.store import lifecycle as lifecycle_store
from frontdesk.store import users as user_store

Json = dict[str, Any]
# the emailed links, by the table that holds them
LINK_TABLES = (LoginToken, PasswordResetToken, EmailChangeToken, EmailRevertToken, AccountRestoreToken)
IN_PROGRESS_TABLES = (SecondFactorChallenge, WebAuthnChallenge, OAuthFlow)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _rows(db: Session, model: Any, user_id: int) -> Iterable[Any]:
    return db.scalars(select(model).where(model.user_id == user_id).order_by(model.id))


def export_account(db: Session, deps: Deps, principal: Principal) -> Json:
    """The caller's data: profile, sessions and devices, API keys, second factors, identities,
    emailed links, sign-ins in progress, the devices new-device notices know and the notices
    sent, audit events and the emails sent (kind and time)."""
    user = user_store.get(db, principal.user_id)
    if user is None:
        raise InvalidCredentials()
    sessions = list(_rows(db, UserSession, user.id))
    return {
        "exported_at": _time(deps.clock.now()),
        "profile": _profile(user),
        "sessions": [_session(s) for s in sessions if not s.is_api_key],
        "api_keys": [_api_key(s) for s in sessions if s.is_api_key],
        "second_factors": {
            "totp": [
                {
                    "id": t.id,
                    "confirmed": t.confirmed,
                    "created": _time(t.created),
                    "confirmed_at": _time(t.confirmed_at),
                    "last_used_at": _time(t.last_used_at),
                }
                for t in _rows(db, TotpFactor, user.id)
            ],
            "webauthn": [
                {
                    "id": c.id,
                    "name": c.name,
                    "passkey": c.passkey,
                    "created": _time(c.created),
                    "last_used": _time(c.last_used),
                    "transports": [t for t in c.transports.split(",") if t],
                    "authenticator_model": c.aaguid,
                    "backed_up": c.backed_up,
                }
                for c in _rows(db, WebAuthnCredential, user.id)
            ],
            "recovery_codes": [
                {"id": r.id, "created": _time(r.created), "used_at": _time(r.used_at)}
                for r in _rows(db, RecoveryCode, user.id)
            ],
        },
        "identities": [
            {
                "id": i.id,
                "provider": i.provider,
                "issuer": i.issuer,
                "subject": i.subject,
                "email": i.email,
                "created": _time(i.created),
                "last_used": _time(i.last_used),
            }
            for i in _rows(db, Identity, user.id)
        ],
        "links": [_link(model.__tablename__, row) for model in LINK_TABLES for row in _rows(db, model, user.id)],
        "sign_ins_in_progress": [
            {
                "kind": model.__tablename__,
                "id": row.id,
                "purpose": row.purpose,
                "created": _time(row.created),
                "expiry": _time(row.expiry),
                "used_at": _time(row.used_at),
            }
            for model in IN_PROGRESS_TABLES
            for row in _rows(db, model, user.id)
        ],
        "sign_in_devices": [
            {
                "id": d.id,
                "browser": d.browser,
                "operating_system": d.operating_system,
                "country": d.country,
                "first_used": _time(d.first_used),
                "last_used": _time(d.last_used),
            }
            for d in _rows(db, SignInDevice, user.id)
        ],
        "new_device_notices": [
            {
                "id": n.id,
                "session_id": n.session_id,
                "browser": n.browser,
                "operating_system": n.operating_system,
                "country": n.country,
                "ip_address": n.ip_address,
                "created": _time(n.created),
                "expiry": _time(n.expiry),
                "used_at": _time(n.used_at),
            }
            for n in _rows(db, NewDeviceNotice, user.id)
        ],
        "audit_events": [
            {
                "id": e.id,
                "created": _time(e.created),
                "event": e.event,
                "session_id": e.session_id,
                "ip_address": e.ip_address,
                "user_agent": e.user_agent,
                "detail": e.detail,
            }
            for e in _rows(db, AuthEvent, user.id)
        ],
        "emails": [
            {"id": m.id, "kind": m.kind, "created": _time(m.created), "status": m.status, "sent_at": _time(m.sent_at)}
            for m in lifecycle_store.emails_to(db, lifecycle_store.addresses_of(db, user))
        ],
    }


def _profile(user: User) -> Json:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "name": user.name,
        "created": _time(user.created),
        "last_active": _time(user.last_active),
        "is_superuser": user.is_superuser,
        "has_password": user.hashed_password is not None,
        "is_banned": user.is_banned,
    }


def _session(s: UserSession) -> Json:
    device = describe(s.user_agent)
    return {
        "id": s.id,
        "created": _time(s.created),
        "expiry": _time(s.expiry),
        "ended": _time(s.deleted),
        "last_seen": _time(s.last_seen),
        "api_calls": s.api_calls,
        "long_lived": s.long_lived,
        "ip_address": s.ip_address,
        "user_agent": s.user_agent,
        "browser": device.browser,
        "operating_system": device.operating_system,
        "device": device.device,
        "approximate_location": locate(s.ip_address),
        "aal": s.aal,
        "factors": s.factor_list,
        "authenticated_at": _time(s.authenticated),
    }


def _api_key(s: UserSession) -> Json:
    return {
        "id": s.id,
        "name": s.name,
        "created": _time(s.created),
        "expiry": _time(s.expiry),
        "ended": _time(s.deleted),
        "last_seen": _time(s.last_seen),
        "api_calls": s.api_calls,
        "ip_address": s.ip_address,
        "user_agent": s.user_agent,
    }


def _link(kind: str, row: Any) -> Json:
    return {
        "kind": kind,
        "id": row.id,
        "created": _time(row.created),
        "expiry": _time(row.expiry),
        "used_at": _time(row.used_at),
        "email": getattr(row, "email", None),
    }
