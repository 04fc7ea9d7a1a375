"""Second factors of a user: an authenticator app (TOTP), WebAuthn credentials and recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base, BigId, Digest


class TotpFactor(Base, kw_only=True):
    """An authenticator-app secret (RFC 6238).

    A user has at most one pending and one confirmed factor (`confirmed`); a pending one becomes
    active only once a code from the app is shown, and then replaces the old confirmed one.
    `secret_box` is the base32 secret encrypted with AES-GCM under a key derived from SECRET, with
    the user id as associated data, so a copied row cannot be moved to another account.
    `last_used_step` is the newest 30-second step accepted: a step is used at most once, and no
    earlier step is accepted after it (replay-proof, enforced by a conditional UPDATE).
    """

    __tablename__ = "totp_factors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    secret_box: Mapped[bytes] = mapped_column(LargeBinary(128), repr=False)
    confirmed: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    created: Mapped[datetime]
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (UniqueConstraint("user_id", "confirmed"),)


class WebAuthnCredential(Base, kw_only=True):
    """A security key or passkey registered by a user (WebAuthn).

    `id` is the public id used by the API; `credential_id` is the authenticator's own id.
    `passkey` marks a discoverable credential (it can sign in on its own, with user verification).
    `user_handle` is the opaque, random WebAuthn user id given at registration (one per user).
    """

    __tablename__ = "webauthn_credentials"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048), repr=False)
    # the authenticator's signature counter; 0 for authenticators (synced passkeys) without one
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # comma-separated AuthenticatorTransport values ("usb,nfc"), as the browser reported them
    transports: Mapped[str] = mapped_column(String(200), default="")
    aaguid: Mapped[str] = mapped_column(String(36), default="00000000-0000-0000-0000-000000000000")
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64), repr=False)
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    passkey: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(100))
    created: Mapped[datetime]
    last_used: Mapped[datetime | None] = mapped_column(default=None)


class RecoveryCode(Base, kw_only=True):
    """One single-use recovery code; only its SHA-256 is stored. A set is replaced whole."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(Digest, repr=False)
    created: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    # how many codes of the set came before this one (for stable display order)
    position: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_recovery_codes_user_id_code_hash", "user_id", "code_hash"),)
