"""Queries on `identities` (linked social sign-in accounts) and `oauth_flows`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from frontdesk.models import Identity, OAuthFlow
from frontdesk.store.rows import changed


def add(db: Session, row: Identity | OAuthFlow) -> None:
    db.add(row)
    db.flush()


def get_by_subject(db: Session, issuer: str, subject: str) -> Identity | None:
    return db.scalars(select(Identity).where(Identity.issuer == issuer, Identity.subject == subject)).first()


def list_for_user(db: Session, user_id: int) -> list[Identity]:
    return list(db.scalars(select(Identity).where(Identity.user_id == user_id).order_by(Identity.id)))


def count_for_user(db: Session, user_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(Identity).where(Identity.user_id == user_id)) or 0)


def remove(db: Session, identity: Identity) -> None:
    db.delete(identity)
    db.flush()


def use_flow(db: Session, state_hash: bytes, now: datetime) -> OAuthFlow | None:
    """End the flow with this state and return it as it was, if it was still unused: exactly one of
    any number of concurrent callbacks gets it (one conditional UPDATE, as for emailed tokens).
    Expiry is the caller's check, so that an expired flow is ended too."""
    flow_id = db.execute(
        update(OAuthFlow)
        .where(OAuthFlow.state_hash == state_hash, OAuthFlow.used_at.is_(None))
        .values(used_at=now)
        .returning(OAuthFlow.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    return db.get(OAuthFlow, flow_id, populate_existing=True) if flow_id is not None else None


def delete_flows_before(db: Session, cutoff: datetime, limit: int = 10_000) -> int:
    """Forget up to `limit` flows that expired or were used before `cutoff` (housekeeping)."""
    ids = select(OAuthFlow.id).where((OAuthFlow.expiry < cutoff) | (OAuthFlow.used_at < cutoff)).limit(limit)
    result = db.execute(delete(OAuthFlow).where(OAuthFlow.id.in_(ids)).execution_options(synchronize_session=False))
    return changed(result)
