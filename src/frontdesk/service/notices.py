"""New-device notices (contract section 7, ASVS 6.3.5).

Every sign-in records its device, as (browser, operating system, country): the families
ua-parser names and the offline GeoIP country. A sign-in from a device the account has not used
within FRONTDESK_NEW_DEVICE_WINDOW (90 days) emails the owner what, where, when and from which IP,
with a single-use "this wasn't me" link (FRONTDESK_NOT_ME_TOKEN_TTL, 7 days). The account's first
recorded sign-in (the one its signup confirmation makes) is never news.

A burst of sign-ins from one new device sends one email (the first makes the device known), and
an account gets at most FRONTDESK_EMAILS_PER_ADDRESS notices per rate-limit window however many
devices sign in (the rest are audited as suppressed).

Using the link ends the sessions (and API keys) that device made since that sign-in, or, when
the person asks, every session and API key of the account; the device becomes unknown again (its
next sign-in is news again) and the account's address gets a link to choose a new password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.errors import TokenInvalid
from frontdesk.mail import human_duration
from frontdesk.metrics import NEW_DEVICE_NOTICES
from frontdesk.models import NewDeviceNotice, PasswordResetToken, User, UserSession
from frontdesk.service import audit, emails, ratelimit
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.devices import describe, locate
from frontdesk.store import notices as store
from frontdesk.store import sessions as session_store
from frontdesk.store import tokens as token_store
from frontdesk.store import users as user_store

_MAX = 100  # the columns' length


@dataclass(frozen=True, slots=True)
class DeviceSeen:
    """A device as new-device notices tell devices apart."""

    browser: str
    operating_system: str
    country: str

    @classmethod
    def of(cls, user_agent: str | None, ip_address: str | None) -> DeviceSeen:
        device = describe(user_agent)
        return cls(device.browser[:_MAX], device.operating_system[:_MAX], locate(ip_address)[:_MAX])

    @property
    def label(self) -> str:
        return f"{self.browser} on {self.operating_system}"


@dataclass(frozen=True, slots=True)
class NoticeView:
    """What a "this wasn't me" page shows about the sign-in its link is about."""

    device: str
    location: str
    ip_address: str
    signed_in_at: datetime


def note_sign_in(db: Session, deps: Deps, user: User, session: UserSession, ctx: RequestContext) -> bool:
    """Record the device of a sign-in that just made `session`; email the owner when the device
    is new to the account. Returns whether a notice was queued."""
    now = deps.clock.now()
    seen = DeviceSeen.of(ctx.user_agent, ctx.ip_address)
    news = store.note(
        db, user.id, seen.browser, seen.operating_system, seen.country, now, now - deps.settings.new_device_window
    )
    if news is not store.Seen.NEW:
        return False
    bucket = ratelimit.subject_key("notice:user", str(user.id))
    if not ratelimit.allow(db, deps, bucket, deps.settings.emails_per_address):
        audit.record(db, deps, "new_device.suppressed", ctx, user_id=user.id, session_id=session.id)
        NEW_DEVICE_NOTICES.labels("suppressed").inc()
        return False
    token = crypto.new_email_token()
    token_store.add(
        db,
        NewDeviceNotice(
            token_hash=crypto.digest(token),
            user_id=user.id,
            session_id=session.id,
            browser=seen.browser,
            operating_system=seen.operating_system,
            country=seen.country,
            ip_address=ctx.ip_address,
            created=session.created,
            expiry=now + deps.settings.not_me_token_ttl,
        ),
    )
    emails.send(
        db,
        deps,
        kind="new_sign_in",
        to=user.email,
        context={
            "name": user.name,
            "device": seen.label,
            "location": seen.country,
            "ip_address": ctx.ip_address or "unknown",
            "when": now.strftime("%Y-%m-%d %H:%M UTC"),
            "window": human_duration(deps.settings.new_device_window),
            "link": emails.link(deps, "new_sign_in", token),
        },
    )
    audit.record(db, deps, "new_device.notified", ctx, user_id=user.id, session_id=session.id, detail=seen.label)
    NEW_DEVICE_NOTICES.labels("sent").inc()
    return True


def _plausible(token: str) -> bool:
    return 0 < len(token) <= crypto.MAX_TOKEN_LENGTH


def view_notice(db: Session, deps: Deps, token: str) -> NoticeView | None:
    """The sign-in a live "this wasn't me" link is about, or None (read only: opening the link,
    as mail scanners do, never uses it)."""
    row = token_store.peek(db, NewDeviceNotice, crypto.digest(token), deps.clock.now()) if _plausible(token) else None
    if row is None:
        return None
    return NoticeView(
        device=f"{row.browser} on {row.operating_system}",
        location=row.country,
        ip_address=row.ip_address or "unknown",
        signed_in_at=row.created,
    )


def disown_sign_in(db: Session, deps: Deps, token: str, end_all: bool, ctx: RequestContext) -> int:
    """Use a "this wasn't me" link once: end the sessions and API keys the device made since that
    sign-in (every session and API key of the account with `end_all`), make the device unknown
    again, and email the account a link to choose a new password. Returns the sessions ended.

    TokenInvalid for an unknown, used or expired link, or an account that can't sign in any more;
    nothing changes then.
    """
    now = deps.clock.now()
    row = token_store.consume(db, NewDeviceNotice, crypto.digest(token), now) if _plausible(token) else None
    user = user_store.get_for_update(db, row.user_id) if row else None
    if row is None or user is None or not user.can_sign_in:
        raise TokenInvalid()
    if end_all:
        ended = session_store.end_for_user(db, user.id, now)
    else:
        ended = store.end_sessions(db, _made_by_device(db, row, now), now)
    store.forget(db, user.id, row.browser, row.operating_system, row.country)
    reset = crypto.new_email_token()
    token_store.add(
        db,
        PasswordResetToken(
            token_hash=crypto.digest(reset), user_id=user.id, created=now, expiry=now + deps.settings.reset_token_ttl
        ),
    )
    emails.send(
        db,
        deps,
        kind="sign_in_disowned",
        to=user.email,
        context={
            "name": user.name,
            "ended": "every device and API key signed in to your account" if end_all else "that device",
            "link": emails.link(deps, "sign_in_disowned", reset),
        },
    )
    audit.record(
        db,
        deps,
        "new_device.disowned",
        ctx,
        user_id=user.id,
        session_id=row.session_id,
        detail=f"end_all={str(end_all).lower()} sessions_ended={ended}",
    )
    NEW_DEVICE_NOTICES.labels("not_me_all" if end_all else "not_me").inc()
    return ended


def _made_by_device(db: Session, row: NewDeviceNotice, now: datetime) -> list[int]:
    """The notice's session, and every live session or API key the same device made since."""
    device = DeviceSeen(row.browser, row.operating_system, row.country)
    return [
        s.id
        for s in store.live_sessions_since(db, row.user_id, row.created, now, also=row.session_id)
        if s.id == row.session_id or DeviceSeen.of(s.user_agent, s.ip_address) == device
    ]
