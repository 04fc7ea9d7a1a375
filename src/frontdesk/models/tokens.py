"""Single-use tokens sent by email: sign-in links, password resets and signup confirmations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, Index, Integer, String
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, MappedAsDataclass, declared_attr, mapped_column

from frontdesk.models.base import Base, BigId, Digest


class _EmailToken(MappedAsDataclass, kw_only=True):
    """Columns and validity rule shared by every emailed token.

    Only `token_hash` (SHA-256) is stored. A token is valid between `created` and `expiry`
    and until `used_at` is set; setting `used_at` is how it is consumed or revoked.
    """

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    token_hash: Mapped[bytes] = mapped_column(Digest, repr=False)
    created: Mapped[datetime]
    expiry: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Index]:
        table = cls.__tablename__  # type: ignore[attr-defined]
        return (Index(f"ix_{table}_by_token_hash", "token_hash", postgresql_using="hash"),)

    @hybrid_method
    def is_valid_at(self, now: datetime) -> bool:
        return self.created <= now and self.expiry >= now and self.used_at is None

    @is_valid_at.inplace.expression  # type: ignore[attr-defined,untyped-decorator]  # mypy sees the dataclass field, not the hybrid
    @classmethod
    def _is_valid_at_sql(cls, now: datetime) -> ColumnElement[bool]:
        return (cls.created <= now) & (cls.expiry >= now) & cls.used_at.is_(None)


class LoginToken(_EmailToken, Base, kw_only=True):
    """A sign-in grant: the link ("magic link") token and the 6-digit code in the same email.

    The link and the code are one grant: using either sets `used_at`, which ends both. The code
    is low-entropy, so it is stored as an Argon2id hash (`code_hash`, ASVS 6.5.2), never as a
    plain digest; `code_attempts` counts the codes tried (before each is checked), and the fifth
    wrong one ends the grant. A grant made before codes existed has no code (`code_hash` None).
    """

    __tablename__ = "login_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str | None] = mapped_column(String(200), default=None, repr=False)
    code_attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)


class PasswordResetToken(_EmailToken, Base, kw_only=True):
    """A password reset link token."""

    __tablename__ = "password_reset_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class SignupToken(_EmailToken, Base, kw_only=True):
    """An email-verification token holding a pending signup; the user is created on confirmation."""

    __tablename__ = "signup_tokens"

    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), index=True)
    username: Mapped[str] = mapped_column(String(64))
    username_key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    hashed_password: Mapped[str] = mapped_column(String(200), repr=False)
