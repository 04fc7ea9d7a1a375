"""Queries of new-device notices: the devices an account has signed in from, and their sessions."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from frontdesk.models import SignInDevice, UserSession
from frontdesk.store.rows import changed

# a known device's last use is written at most this often (a 90-day window needs no more)
REFRESH_EVERY = timedelta(days=1)
# a disowned device's last use: long before any window, so its next sign-in is news again
FORGOTTEN = datetime(2000, 1, 1, tzinfo=UTC)


class Seen(enum.Enum):
    KNOWN = "known"  # used within the window (or another sign-in from it just made it so)
    FIRST = "first"  # the account's first recorded sign-in (its signup, or before notices existed)
    NEW = "new"  # not used within the window by an account that has signed in before


def note(
    db: Session, user_id: int, browser: str, operating_system: str, country: str, now: datetime, cutoff: datetime
) -> Seen:
    """Record a sign-in from this device and say whether it is news (unused since `cutoff`).

    Of any number of concurrent sign-ins from one new device exactly one gets NEW: the stale row
    moves forward in one conditional UPDATE and a missing one appears in one INSERT ... ON
    CONFLICT DO NOTHING (PostgreSQL re-checks after a competing writer commits; SQLite
    serialises writers). A known device costs one indexed SELECT (and a write once a day).
    """
    match = (
        SignInDevice.user_id == user_id,
        SignInDevice.browser == browser,
        SignInDevice.operating_system == operating_system,
        SignInDevice.country == country,
    )
    row = db.execute(select(SignInDevice.id, SignInDevice.last_used).where(*match)).first()
    if row is not None:
        device_id, last_used = row
        if last_used >= cutoff:
            if last_used < now - REFRESH_EVERY:
                _set_last_used(db, device_id, now)
            return Seen.KNOWN
        won = db.execute(
            update(SignInDevice)
            .where(SignInDevice.id == device_id, SignInDevice.last_used < cutoff)
            .values(last_used=now)
            .execution_options(synchronize_session=False)
        )
        return Seen.NEW if changed(won) else Seen.KNOWN
    signed_in_before = bool(db.scalar(select(exists().where(SignInDevice.user_id == user_id))))
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    added = db.execute(
        insert(SignInDevice)
        .values(
            user_id=user_id,
            browser=browser,
            operating_system=operating_system,
            country=country,
            first_used=now,
            last_used=now,
        )
        .on_conflict_do_nothing(
            index_elements=[
                SignInDevice.user_id,
                SignInDevice.browser,
                SignInDevice.operating_system,
                SignInDevice.country,
            ]
        )
        .returning(SignInDevice.id)
    ).scalar_one_or_none()
    if added is None:  # a concurrent sign-in from the same device recorded it first
        return Seen.KNOWN
    return Seen.NEW if signed_in_before else Seen.FIRST


def _set_last_used(db: Session, device_id: int, when: datetime) -> None:
    db.execute(
        update(SignInDevice)
        .where(SignInDevice.id == device_id)
        .values(last_used=when)
        .execution_options(synchronize_session=False)
    )


def delete_stale(db: Session, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` devices unused since `cutoff` whose account has used another device
    more recently: they can no longer make a sign-in "known". The account's most recent device
    stays, so an account unused for a long time still has a history (its next sign-in from a new
    device is news, not a "first" sign-in)."""
    newer = aliased(SignInDevice)
    stale = (
        select(SignInDevice.id)
        .where(
            SignInDevice.last_used < cutoff,
            exists().where(newer.user_id == SignInDevice.user_id, newer.last_used > SignInDevice.last_used),
        )
        .limit(limit)
    )
    return changed(
        db.execute(delete(SignInDevice).where(SignInDevice.id.in_(stale)).execution_options(synchronize_session=False))
    )


def forget(db: Session, user_id: int, browser: str, operating_system: str, country: str) -> int:
    """Make a device unknown to the account again (its owner said a sign-in from it wasn't them)."""
    return changed(
        db.execute(
            update(SignInDevice)
            .where(
                SignInDevice.user_id == user_id,
                SignInDevice.browser == browser,
                SignInDevice.operating_system == operating_system,
                SignInDevice.country == country,
            )
            .values(last_used=FORGOTTEN)
            .execution_options(synchronize_session=False)
        )
    )


def live_sessions_since(
    db: Session, user_id: int, since: datetime, now: datetime, *, also: int
) -> Sequence[UserSession]:
    """The user's sessions and API keys made at or after `since` (and session `also`) that have
    not ended or expired."""
    return db.scalars(
        select(UserSession).where(
            UserSession.user_id == user_id,
            (UserSession.created >= since) | (UserSession.id == also),
            UserSession.deleted.is_(None),
            UserSession.expiry >= now,
        )
    ).all()


def end_sessions(db: Session, session_ids: Sequence[int], now: datetime) -> int:
    if not session_ids:
        return 0
    return changed(
        db.execute(
            update(UserSession)
            .where(UserSession.id.in_(session_ids), UserSession.deleted.is_(None))
            .values(deleted=now)
            .execution_options(synchronize_session=False)
        )
    )
