"""Queries on `webauthn_credentials` and `webauthn_challenges`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from frontdesk.models import WebAuthnChallenge, WebAuthnCredential
from frontdesk.store.rows import changed


def add_credential(db: Session, credential: WebAuthnCredential) -> WebAuthnCredential:
    db.add(credential)
    db.flush()
    return credential


def credentials_of(db: Session, user_id: int) -> list[WebAuthnCredential]:
    """The user's credentials, oldest first."""
    query = select(WebAuthnCredential).where(WebAuthnCredential.user_id == user_id)
    return list(db.scalars(query.order_by(WebAuthnCredential.id)))


def count_credentials(db: Session, user_id: int) -> int:
    return int(db.scalar(select(func.count()).where(WebAuthnCredential.user_id == user_id)) or 0)


def by_credential_id(db: Session, credential_id: bytes) -> WebAuthnCredential | None:
    return db.scalars(select(WebAuthnCredential).where(WebAuthnCredential.credential_id == credential_id)).first()


def user_handle_of(db: Session, user_id: int) -> bytes | None:
    """The WebAuthn user handle already given to this user's authenticators, if any."""
    return db.scalars(
        select(WebAuthnCredential.user_handle).where(WebAuthnCredential.user_id == user_id).limit(1)
    ).first()


def advance_counter(db: Session, credential_pk: int, old_count: int, new_count: int, now: datetime) -> bool:
    """Record a use with its signature counter, only if no concurrent use moved the counter first."""
    result = db.execute(
        update(WebAuthnCredential)
        .where(WebAuthnCredential.id == credential_pk, WebAuthnCredential.sign_count == old_count)
        .values(sign_count=new_count, last_used=now)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


def remove_credential(db: Session, user_id: int, credential_pk: int) -> bool:
    result = db.execute(
        delete(WebAuthnCredential)
        .where(WebAuthnCredential.id == credential_pk, WebAuthnCredential.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


def remove_all_credentials(db: Session, user_id: int) -> int:
    result = db.execute(
        delete(WebAuthnCredential)
        .where(WebAuthnCredential.user_id == user_id)
        .execution_options(synchronize_session=False)
    )
    return changed(result)


def add_challenge(db: Session, challenge: WebAuthnChallenge) -> WebAuthnChallenge:
    db.add(challenge)
    db.flush()
    return challenge


def delete_dead_challenges(db: Session, cutoff: datetime, limit: int) -> int:
    """Delete up to `limit` ceremony challenges that expired or were used before `cutoff`."""
    ids = (
        select(WebAuthnChallenge.id)
        .where((WebAuthnChallenge.expiry < cutoff) | (WebAuthnChallenge.used_at < cutoff))
        .limit(limit)
    )
    result = db.execute(
        delete(WebAuthnChallenge).where(WebAuthnChallenge.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return changed(result)


def consume_challenge(db: Session, challenge_hash: bytes, purpose: str, now: datetime) -> WebAuthnChallenge | None:
    """Use a ceremony challenge once: of any number of concurrent callers, exactly one gets the row."""
    challenge_id = db.execute(
        update(WebAuthnChallenge)
        .where(
            WebAuthnChallenge.challenge_hash == challenge_hash,
            WebAuthnChallenge.purpose == purpose,
            WebAuthnChallenge.used_at.is_(None),
            WebAuthnChallenge.created <= now,
            WebAuthnChallenge.expiry >= now,
        )
        .values(used_at=now)
        .returning(WebAuthnChallenge.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return None if challenge_id is None else db.get(WebAuthnChallenge, challenge_id)
