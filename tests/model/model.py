"""The reference model: what the contract says each known credential answers, in plain Python.

It knows nothing of frontdesk's code. Every rule below is the contract's (sections 2-4, 6 and 7)
or, where the contract is silent, what the code does and `docs/testing.md` writes down.
Times are the driver's clock (`Driver.now()`): a frozen clock for the service layer, the real
clock plus the SQL time travel done so far for a live server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

IDLE_TTL = timedelta(hours=168)
SESSION_TTL = timedelta(days=730)
LOGIN_LINK_TTL = timedelta(minutes=10)
RESET_TTL = timedelta(hours=2)
CHALLENGE_TTL = timedelta(minutes=5)
CHALLENGE_ATTEMPTS = 5
REAUTH_MAX_AGE = timedelta(minutes=10)
SECOND_FACTORS = frozenset({"totp", "webauthn", "recovery_code"})
API_KEY_DAYS = 30  # every key the model makes lives this long
EMAIL_CHANGE_TTL = timedelta(hours=24)
EMAIL_REVERT_TTL = timedelta(days=7)
DELETION_GRACE = timedelta(days=7)
SIGN_IN_LINKS = ("login", "reset")


@dataclass
class MUser:
    """An account as the model sees it."""

    user_id: int
    username: str
    email: str
    password: str
    banned: bool = False
    totp_secret: str | None = None  # the active authenticator app
    totp_last_step: int | None = None  # the newest 30-second step accepted for it
    pending_secret: str | None = None  # an enrolment not confirmed yet
    recovery_codes: set[str] = field(default_factory=set)
    totp_since: datetime | None = None  # when the active app's enrolment began (an undo removes newer)
    pending_since: datetime | None = None
    former_emails: set[str] = field(default_factory=set)  # addresses it had (none logs in now)
    deleted_at: datetime | None = None  # deleted, within or past its grace (never erased here)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret is not None


@dataclass
class MCred:
    """A session cookie or an API key the model has seen issued."""

    token: str
    is_api_key: bool
    username: str
    session_id: int
    long_lived: bool
    created: datetime
    expiry: datetime
    last_seen: datetime
    aal: int
    authenticated_at: datetime
    factors: tuple[str, ...] = ()
    ended: bool = False

    def __repr__(self) -> str:
        kind = "key" if self.is_api_key else "cookie"
        return f"<{kind} {self.session_id} of {self.username} aal{self.aal}{' ended' if self.ended else ''}>"


@dataclass(frozen=True)
class Answer:
    """What `/v1/verify` (and `/v1/session`) say about a credential when it is valid;
    `auth_time` is `X-Frontdesk-Auth-Time` (Unix seconds)."""

    user_id: int
    session_id: int
    aal: int
    auth_time: int

    def same(self, other: Answer | None, slack: float) -> bool:
        """Equal, but for `slack` seconds of `auth_time` (a live server stamps its own time, within
        the operation that the model dates by its start)."""
        return (
            other is not None
            and (self.user_id, self.session_id, self.aal) == (other.user_id, other.session_id, other.aal)
            and abs(self.auth_time - other.auth_time) <= slack
        )


def assurance_level(factors: tuple[str, ...]) -> int:
    """Contract section 6: 2 for a first factor plus a second factor (or a passkey), else 1."""
    return 2 if "passkey" in factors or (len(factors) >= 2 and SECOND_FACTORS & set(factors)) else 1


@dataclass
class MLink:
    """An emailed link: sign-in, reset, or of the account lifecycle (contract section 7)."""

    token: str
    purpose: str  # "login" | "reset" | "email_change" | "email_revert" | "restore"
    username: str
    created: datetime
    expiry: datetime
    used: bool = False
    email: str | None = None  # the new address (email_change) or the old one (email_revert)
    password: str | None = None  # email_revert: the password when the change was confirmed

    def __repr__(self) -> str:
        return f"<{self.purpose} link of {self.username}{' used' if self.used else ''}>"


@dataclass
class MChallenge:
    """A second-step challenge (202 `mfa_required`)."""

    token: str
    purpose: str  # "login" | "reset"
    username: str
    first_factor: str
    remember: bool
    created: datetime
    new_password: str | None = None
    keep_api_keys: bool = False
    attempts: int = 0
    used: bool = False

    def __repr__(self) -> str:
        return f"<{self.purpose} challenge of {self.username} tries={self.attempts}{' used' if self.used else ''}>"


class Model:
    """Users, credentials, links and challenges, and the contract's rules over them."""

    def __init__(self) -> None:
        self.users: dict[str, MUser] = {}
        self.creds: list[MCred] = []
        self.links: list[MLink] = []
        self.challenges: list[MChallenge] = []

    # --- validity --------------------------------------------------------------------------------

    def cred_valid(self, cred: MCred, now: datetime) -> bool:
        """Contract section 2: created <= now <= expiry, not ended, long-lived or used within
        168 h, and the user neither banned nor deleted."""
        user = self.users[cred.username]
        return (
            not cred.ended
            and cred.created <= now <= cred.expiry
            and (cred.long_lived or now - cred.last_seen < IDLE_TTL)
            and not user.banned
            and not user.deleted
        )

    def expected(self, cred: MCred, now: datetime) -> Answer | None:
        if not self.cred_valid(cred, now):
            return None
        auth_time = int(cred.authenticated_at.timestamp())
        return Answer(self.users[cred.username].user_id, cred.session_id, cred.aal, auth_time)

    def fresh(self, cred: MCred, now: datetime) -> bool:
        """A cookie session in which a factor was proved within REAUTH_MAX_AGE."""
        return not cred.is_api_key and now - cred.authenticated_at <= REAUTH_MAX_AGE

    def renew(self, cred: MCred, method: str, now: datetime, *, aal: int | None = None) -> None:
        """A re-authentication with `method`: fresh from now, `method` among the factors, the aal
        raised to `aal` (never lowered). Nothing for an API key."""
        if cred.is_api_key:
            return
        cred.authenticated_at = now
        if method not in cred.factors:
            cred.factors = (*cred.factors, method)
        cred.aal = max(cred.aal, aal or 1)

    def link_valid(self, link: MLink, now: datetime) -> bool:
        return not link.used and link.created <= now <= link.expiry

    def challenge_open(self, challenge: MChallenge, now: datetime) -> bool:
        return (
            not challenge.used
            and challenge.created <= now <= challenge.created + CHALLENGE_TTL
            and challenge.attempts < CHALLENGE_ATTEMPTS
        )

    # --- changes ---------------------------------------------------------------------------------

    def add_session(
        self, token: str, session_id: int, user: MUser, *, long_lived: bool, factors: tuple[str, ...], now: datetime
    ) -> MCred:
        aal = assurance_level(factors)
        cred = MCred(
            token, False, user.username, session_id, long_lived, now, now + SESSION_TTL, now, aal, now, factors
        )
        self.creds.append(cred)
        return cred

    def add_key(self, token: str, session_id: int, user: MUser, now: datetime) -> MCred:
        expiry = now + timedelta(days=API_KEY_DAYS)
        cred = MCred(token, True, user.username, session_id, True, now, expiry, now, 1, now)
        self.creds.append(cred)
        return cred

    def end_sessions(
        self, user: MUser, now: datetime, *, except_id: int | None = None, cookies_only: bool = False
    ) -> None:
        for cred in self.creds:
            if cred.username != user.username or cred.session_id == except_id:
                continue
            if cookies_only and cred.is_api_key:
                continue
            cred.ended = True

    def end_links(self, user: MUser, purposes: tuple[str, ...] = SIGN_IN_LINKS) -> None:
        """End the user's outstanding links of these purposes (a new password: sign-in and reset)."""
        for link in self.links:
            if link.username == user.username and link.purpose in purposes:
                link.used = True

    def set_password(self, user: MUser, password: str) -> None:
        user.password = password
        self.end_links(user)

    def holder(self, email: str) -> MUser | None:
        """The user whose address `email` is now."""
        return next((u for u in self.users.values() if u.email == email), None)

    def remove_ways_in_since(self, user: MUser, since: datetime) -> None:
        """An undone email change: the authenticator app (and a pending one) begun at or after
        `since` go, the recovery codes with the last second factor, and every open challenge."""
        if user.totp_since is not None and user.totp_since >= since:
            user.totp_secret = user.totp_last_step = user.totp_since = None
        if user.pending_since is not None and user.pending_since >= since:
            user.pending_secret = user.pending_since = None
        if not user.has_second_factor:
            user.recovery_codes = set()
        for challenge in self.challenges:
            if challenge.username == user.username:
                challenge.used = True

    def valid_creds_of(self, user: MUser, now: datetime) -> list[MCred]:
        return [c for c in self.creds if c.username == user.username and self.cred_valid(c, now)]
