"""Writes to the `auth_events` audit table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from frontdesk.models import AuthEvent


def record(db: Session, event: AuthEvent) -> None:
    db.add(event)


def for_user(db: Session, user_id: int, limit: int = 100) -> Sequence[AuthEvent]:
    return db.scalars(
        select(AuthEvent).where(AuthEvent.user_id == user_id).order_by(AuthEvent.id.desc()).limit(limit)
    ).all()


def recent(db: Session, since: datetime, event: str | None = None) -> Sequence[AuthEvent]:
    stmt = select(AuthEvent).where(AuthEvent.created >= since)
    if event is not None:
        stmt = stmt.where(AuthEvent.event == event)
    return db.scalars(stmt.order_by(AuthEvent.id)).all()
