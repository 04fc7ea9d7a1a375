"""The `users` table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base, BigId


class User(Base, kw_only=True):
    """A person who can sign in.

    `username` and `email` are kept as typed for display; `username_key` and `email_key` are
    their canonical forms (NFKC + case folding) and carry the unique constraints, so
    "Alice", "alice" and the full-width "Alice" are one account.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Argon2id hash string (it names its own parameters); never logged, never in repr.
    # NULL for an account made by social sign-in until a password reset sets one.
    hashed_password: Mapped[str | None] = mapped_column(String(200), repr=False)
    created: Mapped[datetime]
    last_active: Mapped[datetime]
    is_superuser: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    is_banned: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    is_deleted: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    # account lifecycle (contract section 7): when its owner (or an admin) deleted it, which starts
    # the grace period, and when `frontdesk cleanup` erased it (is_deleted stays true for good)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    erased_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def can_sign_in(self) -> bool:
        """Neither banned nor deleted: the user half of session validity."""
        return not (self.is_banned or self.is_deleted)
