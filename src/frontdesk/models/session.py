"""The `sessions` table: browser cookie sessions and API keys (the seed's `UserSession`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, ColumnElement, ForeignKey, Index, Integer, String, false
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base, BigId, Digest


class UserSession(Base, kw_only=True):
    """API keys and session cookies.

    Long-lived sessions ("remember this browser") are valid from `created` until `expiry`.
    Short-lived ones also die after `idle_ttl` (168 hours by default) without use.
    A session is fixed at creation as a cookie session or an API key, and a token only
    matches sessions of the kind it was presented as.

    Unlike the seed, the token itself is never stored: `token_hash` is its SHA-256, so a leaked
    database holds no usable session. `id` is public and names the session in the API.
    """

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    token_hash: Mapped[bytes] = mapped_column(Digest, repr=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # fixed at creation: an API key travels in `Authorization: Bearer`, a cookie session in the cookie
    is_api_key: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    long_lived: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime]
    # the session cannot be refreshed past this
    expiry: Mapped[datetime] = mapped_column(index=True)
    # when the session was ended (logout, revocation); NULL while it lives
    deleted: Mapped[datetime | None] = mapped_column(default=None)
    last_seen: Mapped[datetime]
    api_calls: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    # from the request that created the session; shown on "your devices", used for nothing else
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(512), default=None)
    # an API key's name, chosen by its owner
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    # authentication assurance: 1 = one factor; 2 = two factors, or a passkey with user verification
    aal: Mapped[int] = mapped_column(Integer, server_default="1", default=1)
    # the factors proved, comma-separated in the order proved ("password,totp"); see `factor_list`
    factors: Mapped[str] = mapped_column(String(100), server_default="", default="")
    # the last time a factor was proved in this session (sign-in or re-authentication);
    # NULL only on sessions older than second factors, read as `created` (see `authenticated`)
    authenticated_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        # equality lookups only; a hash index is smaller and flat as the table grows
        Index("ix_sessions_by_token_hash", "token_hash", postgresql_using="hash"),
    )

    @property
    def authenticated(self) -> datetime:
        """When a factor was last proved in this session."""
        return self.authenticated_at or self.created

    @property
    def factor_list(self) -> list[str]:
        """`factors` as a list (`["password", "totp"]`)."""
        return [f for f in self.factors.split(",") if f]

    @hybrid_method
    def is_valid_at(self, now: datetime, idle_ttl: timedelta) -> bool:
        """The seed's `is_valid`, usable on an instance and in SQL with the same meaning."""
        return (
            self.created <= now
            and self.expiry >= now
            and self.deleted is None
            and (self.long_lived or now - self.last_seen < idle_ttl)
        )

    @is_valid_at.inplace.expression  # type: ignore[attr-defined,untyped-decorator]  # mypy sees the dataclass field, not the hybrid
    @classmethod
    def _is_valid_at_sql(cls, now: datetime, idle_ttl: timedelta) -> ColumnElement[bool]:
        return cls.valid_where(now, now - idle_ttl)

    @classmethod
    def valid_where(
        cls, now: datetime | ColumnElement[datetime], idle_cutoff: datetime | ColumnElement[datetime]
    ) -> ColumnElement[bool]:
        """The validity rule in SQL, for values or bind parameters.

        `now - last_seen < idle` is written `last_seen > idle_cutoff` with `idle_cutoff = now - idle`
        computed in Python, so both databases compare plain timestamps and agree with the instance
        form. Taking bind parameters lets the hot path prepare the statement once.
        """
        return (
            (cls.created <= now)
            & (cls.expiry >= now)
            & cls.deleted.is_(None)
            & (cls.long_lived | (cls.last_seen > idle_cutoff))
        )
