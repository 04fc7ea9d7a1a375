"""Writes to the `auth_events` audit table."""

from __future__ import annotations

from sqlalchemy.orm import Session

from frontdesk.models import AuthEvent


def record(db: Session, event: AuthEvent) -> None:
    db.add(event)
