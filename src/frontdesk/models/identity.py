"""Social sign-in: `identities` (an account at an OpenID provider linked to a user) and `oauth_flows`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base, BigId, Digest


class Identity(Base, kw_only=True):
    """A provider's account linked to a user, keyed by (issuer, subject) and never by email.

    `email` is what the provider last said (shown on the account page); it decides nothing after linking.
    """

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # the configured provider's name (`FRONTDESK_OIDC_PROVIDERS`), e.g. "google"
    provider: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    created: Mapped[datetime]
    last_used: Mapped[datetime]

    __table_args__ = (UniqueConstraint("issuer", "subject"),)


class OAuthFlow(Base, kw_only=True):
    """One authorization request in progress: single-use, short-lived, bound to one browser.

    Only digests of `state`, of the browser-binding secret (a cookie) and of `nonce` are stored.
    The PKCE verifier must be sent to the provider later, so it is kept sealed (AES-GCM) under a
    key derived from the binding secret: the database alone cannot unseal it.
    """

    __tablename__ = "oauth_flows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    state_hash: Mapped[bytes] = mapped_column(Digest, unique=True, repr=False)
    binding_hash: Mapped[bytes] = mapped_column(Digest, repr=False)
    nonce_hash: Mapped[bytes] = mapped_column(Digest, repr=False)
    verifier_box: Mapped[bytes] = mapped_column(LargeBinary(128), repr=False)
    provider: Mapped[str] = mapped_column(String(64))
    # "sign_in" (from the sign-in page), "link" (from a signed-in account, for `user_id`) or
    # "reauth" (`user_id` signing in again through a linked provider, for a fresh session)
    purpose: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None)
    next_path: Mapped[str] = mapped_column(String(2048))
    remember_device: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime]
    expiry: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)
