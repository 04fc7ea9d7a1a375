"""New-device notices (contract section 7): the devices an account signs in from, and the emailed
"this wasn't me" link sent when a sign-in comes from one it has not used lately."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from frontdesk.models.base import Base, BigId
from frontdesk.models.tokens import _EmailToken


class SignInDevice(Base, kw_only=True):
    """A (browser, operating system, country) an account has signed in from, and when last.

    Only the families ua-parser names ("Firefox", "Windows") and the GeoIP country: no user agent,
    no IP address. One row per account and device; kept while the account is, erased with it.
    """

    __tablename__ = "sign_in_devices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, init=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    browser: Mapped[str] = mapped_column(String(100))
    operating_system: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(100))
    first_used: Mapped[datetime]
    # moved forward at most once a day; set far back when the owner disowns the device, so its
    # next sign-in is news again
    last_used: Mapped[datetime]

    __table_args__ = (UniqueConstraint("user_id", "browser", "operating_system", "country"),)


class NewDeviceNotice(_EmailToken, Base, kw_only=True):
    """The "this wasn't me" link emailed about one sign-in from a new device (7 days).

    `created` is when the sign-in happened; the device and place are kept as the email told them,
    so the link's page can show them even after the session itself is gone. `session_id` is the
    sign-in's session (no foreign key: cleanup deletes dead sessions, the notice may outlive it).
    """

    __tablename__ = "new_device_notices"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(BigId)
    browser: Mapped[str] = mapped_column(String(100))
    operating_system: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(100))
    ip_address: Mapped[str | None] = mapped_column(String(64), default=None)
