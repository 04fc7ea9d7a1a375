"""The `email_outbox` table: every email, written in the transaction of the action that causes it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base, BigId


class OutboxEmail(Base, kw_only=True):
    """An email waiting to be sent, sent, or given up on.

    Bodies may hold a sign-in or reset link until the email is sent; the sender blanks the
    link-bearing bodies once delivered, so the outbox does not keep usable tokens.
    """

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    created: Mapped[datetime]
    # template name: "signup_confirm", "login_link", "password_reset", ...
    kind: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text, repr=False)
    html_body: Mapped[str] = mapped_column(Text, repr=False)
    # "pending", "sent" or "failed"
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)

    __table_args__ = (Index("ix_email_outbox_status_next_attempt_at", "status", "next_attempt_at"),)
