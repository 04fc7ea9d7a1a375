"""Queries on `users`."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from frontdesk.models import User


def add(db: Session, user: User) -> User:
    db.add(user)
    db.flush()
    return user


def get(db: Session, user_id: int) -> User | None:
    return db.get(User, user_id)


def get_for_update(db: Session, user_id: int) -> User | None:
    return db.scalars(select(User).where(User.id == user_id).with_for_update()).first()


def get_by_login(db: Session, key: str) -> User | None:
    """The user whose canonical username or email is `key`."""
    return db.scalars(select(User).where(or_(User.username_key == key, User.email_key == key))).first()


def get_by_username_key(db: Session, key: str) -> User | None:
    return db.scalars(select(User).where(User.username_key == key)).first()


def get_by_email_key(db: Session, key: str) -> User | None:
    return db.scalars(select(User).where(User.email_key == key)).first()
