"""The `auth_events` audit table: who did what security-relevant thing, when, from where."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base, BigId


class AuthEvent(Base, kw_only=True):
    """One security-relevant event. Holds ids and request metadata, never a secret."""

    __tablename__ = "auth_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    created: Mapped[datetime] = mapped_column(index=True)
    # dotted name, e.g. "login.succeeded", "session.revoked"
    event: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True, default=None)
    session_id: Mapped[int | None] = mapped_column(BigId, default=None)
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(512), default=None)
    # short, non-secret detail such as the failure reason
    detail: Mapped[str | None] = mapped_column(String(200), default=None)
