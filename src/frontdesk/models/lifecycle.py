"""Account lifecycle links (contract section 7): confirming and undoing an email change, and
restoring an account deleted within its grace period. Each is a single-use emailed token."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base
from frontdesk.models.tokens import _EmailToken


class EmailChangeToken(_EmailToken, Base, kw_only=True):
    """The link sent to a new address: using it makes `email` the account's address (24 h)."""

    __tablename__ = "email_change_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))


class EmailRevertToken(_EmailToken, Base, kw_only=True):
    """The undo link sent to the old address once a change is confirmed (7 days).

    `email` is the address to restore. `password_hash` is the password hash in place when the
    address changed: an undo puts it back if the password was changed since (the takeover chain:
    swap the email, then reset the password to the new inbox). Never shown, never logged.
    """

    __tablename__ = "email_revert_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None, repr=False)


class AccountRestoreToken(_EmailToken, Base, kw_only=True):
    """The link that restores a deleted account; it lives until the account's erasure is due."""

    __tablename__ = "account_restore_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
