"""Sessions and API keys: issue, authenticate (the hot path), list, revoke."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.errors import CannotDeleteCurrentSession, Forbidden, InvalidCredentials, InvalidInput, NotFound
from frontdesk.models import User, UserSession
from frontdesk.service import audit, emails, freshness
from frontdesk.service.accounts import check_own_password
from frontdesk.service.context import Principal, RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.devices import describe, locate
from frontdesk.settings import API_KEY_MAX_DAYS, API_KEY_MIN_DAYS
from frontdesk.store import sessions as store
from frontdesk.store import users as user_store

if TYPE_CHECKING:  # the asyncpg fast path is the server's (frontdesk[server]); see service/fastpath.py
    from frontdesk.store.fastpath import AsyncPrincipalLookup

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session and its token. The token exists only here; the database holds its hash."""

    token: str
    session: UserSession

    def __repr__(self) -> str:
        return f"IssuedSession(session_id={self.session.id}, token=<hidden>)"


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as the owner sees it on "your devices"."""

    id: int
    name: str | None
    created: datetime
    expiry: datetime
    last_seen: datetime
    api_calls: int
    long_lived: bool
    is_api_key: bool
    is_current: bool
    aal: int
    factors: list[str]
    authenticated_at: datetime
    ip_address: str | None
    user_agent: str | None
    browser: str
    operating_system: str
    device: str
    approximate_location: str


@dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: list[SessionView]
    next_page_token: str | None


def issue_session(
    db: Session,
    deps: Deps,
    user: User,
    ctx: RequestContext,
    *,
    long_lived: bool,
    is_api_key: bool = False,
    name: str | None = None,
    ttl: timedelta | None = None,
    factors: Sequence[str] = (),
    aal: int = 1,
) -> IssuedSession:
    """Create a cookie session or API key. A login always gets a new session (no fixation).

    `factors` are the factors just proved (`("password", "totp")`) and `aal` their assurance
    level; an API key is always aal 1.
    """
    now = deps.clock.now()
    token = crypto.new_api_key() if is_api_key else crypto.new_session_token()
    session = store.add(
        db,
        UserSession(
            token_hash=crypto.digest(token),
            user_id=user.id,
            is_api_key=is_api_key,
            long_lived=long_lived,
            created=now,
            expiry=now + (ttl or deps.settings.session_ttl),
            last_seen=now,
            ip_address=ctx.ip_address,
            user_agent=ctx.user_agent,
            name=name,
            aal=1 if is_api_key else aal,
            factors=",".join(factors),
            authenticated_at=now,
        ),
    )
    return IssuedSession(token=token, session=session)


def authenticate(db: Session, deps: Deps, token: str, *, is_api_key: bool) -> Principal | None:
    """The valid session behind a token presented as a cookie (`is_api_key=False`) or bearer key.

    One SELECT decides; the use is recorded in the touch buffer (written in batches), never
    in this transaction, so a busy session does not write on every request.
    """
    if not _plausible(token):
        return None
    now = deps.clock.now()
    principal = store.find_principal(db, crypto.digest(token), is_api_key, now, deps.settings.session_idle_ttl)
    return _touched(deps, principal, now)


async def authenticate_fast(
    lookup: AsyncPrincipalLookup, deps: Deps, token: str, *, is_api_key: bool
) -> Principal | None:
    """`authenticate` for the hot path: the same statement and rule, on the prepared async pool."""
    if not _plausible(token):
        return None
    now = deps.clock.now()
    principal = await lookup.find(crypto.digest(token), is_api_key, now)
    return _touched(deps, principal, now)


def _plausible(token: str) -> bool:
    return 0 < len(token) <= crypto.MAX_TOKEN_LENGTH


def _touched(deps: Deps, principal: Principal | None, now: datetime) -> Principal | None:
    """Record the use of a found session (written later, in batches)."""
    if principal is not None:
        deps.touches.record(principal.session_id, now)
    return principal


def revoke_session(db: Session, deps: Deps, principal: Principal, session_id: int, ctx: RequestContext) -> bool:
    """End one of the caller's own sessions (not the one in use: that is logout). Returns whether
    it was an API key."""
    if session_id == principal.session_id:
        raise CannotDeleteCurrentSession()
    now = deps.clock.now()
    target = store.get_valid(db, principal.user_id, session_id, now, deps.settings.session_idle_ttl)
    if target is None:
        raise NotFound("session")
    store.end(db, session_id, now)
    audit.record(db, deps, "session.revoked", ctx, user_id=principal.user_id, session_id=session_id)
    return target.is_api_key


def end_current_session(db: Session, deps: Deps, principal: Principal, ctx: RequestContext) -> None:
    """Logout."""
    if store.end(db, principal.session_id, deps.clock.now()):
        audit.record(db, deps, "logout", ctx, user_id=principal.user_id, session_id=principal.session_id)


def revoke_other_sessions(db: Session, deps: Deps, principal: Principal, ctx: RequestContext) -> int:
    """End every other cookie session of the caller; API keys are left alone."""
    count = store.end_for_user(
        db, principal.user_id, deps.clock.now(), except_session_id=principal.session_id, cookies_only=True
    )
    audit.record(db, deps, "session.revoked_others", ctx, user_id=principal.user_id, detail=f"count={count}")
    return count


def end_session_by_id(db: Session, deps: Deps, session_id: int, ctx: RequestContext, *, actor_id: int | None) -> None:
    """End any session by its public id (administrators and the CLI)."""
    if not store.end(db, session_id, deps.clock.now()):
        raise NotFound("session")
    audit.record(db, deps, "session.revoked", ctx, session_id=session_id, detail=f"by={actor_id}")


def revoke_all_sessions(db: Session, deps: Deps, user_id: int, ctx: RequestContext, *, actor_id: int | None) -> int:
    """End every session and API key of a user (administrators)."""
    if user_store.get(db, user_id) is None:
        raise NotFound("user")
    count = store.end_for_user(db, user_id, deps.clock.now())
    audit.record(db, deps, "session.revoked_all", ctx, user_id=user_id, detail=f"count={count} by={actor_id}")
    return count


def api_key_ttl(deps: Deps, expiry_days: int | None) -> timedelta:
    """An API key's lifetime: `expiry_days` (from API_KEY_MIN_DAYS to API_KEY_MAX_DAYS), or
    FRONTDESK_API_KEY_DEFAULT_DAYS when None."""
    days = deps.settings.api_key_default_days if expiry_days is None else expiry_days
    if not API_KEY_MIN_DAYS <= days <= API_KEY_MAX_DAYS:
        raise InvalidInput(
            f"expiry_days must be between {API_KEY_MIN_DAYS} and {API_KEY_MAX_DAYS}.", field="expiry_days"
        )
    return timedelta(days=days)


def create_api_key(
    db: Session,
    deps: Deps,
    principal: Principal,
    password: str,
    name: str,
    expiry_days: int | None,
    ctx: RequestContext,
) -> IssuedSession:
    """A new API key for the caller, who proves it is them with their password; it lives
    `expiry_days` (FRONTDESK_API_KEY_DEFAULT_DAYS when None). The owner is emailed a notice
    (name, expiry, where from), so a key made by someone else does not go unseen.

    A stale session needs a re-authentication first (ReauthenticationRequired), unless the user
    has no second factor: then `password` counts as one (`freshness.password_may_reauthenticate`).
    """
    if principal.is_api_key:
        raise Forbidden("API keys can't create API keys; sign in with a browser session.")
    reauthenticating = freshness.password_may_reauthenticate(db, deps, principal)
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("API key names are 1 to 100 characters.", field="name")
    ttl = api_key_ttl(deps, expiry_days)
    user = user_store.get(db, principal.user_id)
    if user is None:
        raise InvalidCredentials()
    check_own_password(db, deps, user, password, ctx, event="api_key.refused")
    if reauthenticating:
        freshness.renew(db, deps, principal, "password")
    issued = issue_session(db, deps, user, ctx, long_lived=True, is_api_key=True, name=name, ttl=ttl)
    device = describe(ctx.user_agent)
    emails.send(
        db,
        deps,
        kind="api_key_notice",
        to=user.email,
        context={
            "name": user.name,
            "key_name": name,
            "expiry": issued.session.expiry.strftime("%Y-%m-%d"),
            "device": f"{device.browser} on {device.operating_system}, {ctx.ip_address or 'unknown address'}",
        },
    )
    audit.record(db, deps, "api_key.created", ctx, user_id=user.id, session_id=issued.session.id)
    return issued


def list_sessions(
    db: Session,
    deps: Deps,
    user_id: int,
    page_size: int | None,
    page_token: str | None,
    *,
    current_session_id: int | None = None,
) -> SessionPage:
    """A user's valid sessions and API keys, most recently seen first, a page at a time."""
    size = DEFAULT_PAGE_SIZE if page_size is None else page_size
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page_size must be between 1 and {MAX_PAGE_SIZE}.", field="page_size")
    after = decode_page_token(page_token) if page_token else None
    rows = store.list_valid(
        db,
        user_id,
        deps.clock.now(),
        deps.settings.session_idle_ttl,
        limit=size + 1,
        after=after,
    )
    more = len(rows) > size
    rows = rows[:size]
    views = [_view(s, current_session_id) for s in rows]
    next_token = encode_page_token(rows[-1].last_seen, rows[-1].id) if more else None
    return SessionPage(views, next_token)


def _view(s: UserSession, current_session_id: int | None) -> SessionView:
    device = describe(s.user_agent)
    return SessionView(
        id=s.id,
        name=s.name,
        created=s.created,
        expiry=s.expiry,
        last_seen=s.last_seen,
        api_calls=s.api_calls,
        long_lived=s.long_lived,
        is_api_key=s.is_api_key,
        is_current=s.id == current_session_id,
        aal=s.aal,
        factors=s.factor_list,
        authenticated_at=s.authenticated,
        ip_address=s.ip_address,
        user_agent=s.user_agent,
        browser=device.browser,
        operating_system=device.operating_system,
        device=device.device,
        approximate_location=locate(s.ip_address),
    )


def encode_page_token(last_seen: datetime, session_id: int) -> str:
    raw = json.dumps([last_seen.isoformat(), session_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[datetime, int]:
    """Parse a page token, refusing anything this module did not make."""
    bad = InvalidInput("That page_token is not valid.", field="page_token")
    if len(token) > 200:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        when, session_id = json.loads(raw)
        last_seen = datetime.fromisoformat(when)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if not isinstance(session_id, int) or isinstance(session_id, bool) or last_seen.tzinfo is None:
        raise bad
    if not 0 < session_id < 2**63:
        raise bad
    return last_seen, session_id
