"""Short-lived, single-use challenges of second-factor sign-in and WebAuthn ceremonies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ColumnElement, ForeignKey, Index, Integer, LargeBinary, String, false
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base, BigId, Digest


class SecondFactorChallenge(Base, kw_only=True):
    """The state between a first-factor success and the second step (contract section 6).

    Only `token_hash` (SHA-256 of the 256-bit token handed to the client) is stored. It lives
    5 minutes, is used once (`used_at`), and ends after too many wrong codes (`attempts`).
    For a reset it holds the new password's Argon2 hash, applied only when the second step succeeds.
    """

    __tablename__ = "second_factor_challenges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    token_hash: Mapped[bytes] = mapped_column(Digest, repr=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # "login", "reset" or "reauth"
    purpose: Mapped[str] = mapped_column(String(16))
    # the factor already proved: "password", "email_link", ...
    first_factor: Mapped[str] = mapped_column(String(32))
    remember_device: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    # a reset: the new password (Argon2id hash) and whether API keys survive it
    new_password_hash: Mapped[str | None] = mapped_column(String(200), default=None, repr=False)
    keep_api_keys: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    # a re-authentication: the session that asked
    session_id: Mapped[int | None] = mapped_column(BigId, default=None)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    created: Mapped[datetime]
    expiry: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_second_factor_challenges_by_token_hash", "token_hash", postgresql_using="hash"),)

    @hybrid_method
    def is_open_at(self, now: datetime, max_attempts: int) -> bool:
        return self.created <= now <= self.expiry and self.used_at is None and self.attempts < max_attempts

    @is_open_at.inplace.expression  # type: ignore[attr-defined,untyped-decorator]  # mypy sees the dataclass field, not the hybrid
    @classmethod
    def _is_open_at_sql(cls, now: datetime, max_attempts: int) -> ColumnElement[bool]:
        return (cls.created <= now) & (cls.expiry >= now) & cls.used_at.is_(None) & (cls.attempts < max_attempts)


class WebAuthnChallenge(Base, kw_only=True):
    """A WebAuthn ceremony's challenge, kept server-side, single-use, 5 minutes.

    Stored as the SHA-256 of the random challenge; the response's clientDataJSON names the
    challenge, which finds (and uses up) this row. `purpose` is "registration", "authentication"
    (a second step, bound to `second_factor_challenge_id`) or "passkey" (sign-in without a user).
    """

    __tablename__ = "webauthn_challenges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    challenge_hash: Mapped[bytes] = mapped_column(Digest, repr=False)
    purpose: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None, index=True)
    second_factor_challenge_id: Mapped[int | None] = mapped_column(
        ForeignKey("second_factor_challenges.id", ondelete="CASCADE"), default=None, index=True
    )
    # a registration: the WebAuthn user handle offered to the authenticator
    user_handle: Mapped[bytes | None] = mapped_column(LargeBinary(64), default=None, repr=False)
    created: Mapped[datetime]
    expiry: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_webauthn_challenges_by_challenge_hash", "challenge_hash", postgresql_using="hash"),)
