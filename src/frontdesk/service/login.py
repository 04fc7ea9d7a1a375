"""Signing in: with a password, or with a one-time link sent by email (or its 6-digit code)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from frontdesk.crypto import SIGN_IN_CODE_DIGITS
from frontdesk.db import checkpoint
from frontdesk.errors import AccountSuspended, InvalidCode, InvalidCredentials
from frontdesk.models import LoginToken, User
from frontdesk.service import audit, known_devices, ratelimit
from frontdesk.service.accounts import check_user_password
from frontdesk.service.challenges import needs_second_factor, require_second_factor
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.identity import login_key
from frontdesk.service.links import send_user_link, use_user_link
from frontdesk.service.results import AuthResult
from frontdesk.service.signin import open_session
from frontdesk.store import tokens as token_store
from frontdesk.store import users as user_store

MAX_CODE_ATTEMPTS = 5  # codes tried against one sign-in grant; the fifth wrong one ends it


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One sign-in attempt, counted against the login limits before any credential is checked."""

    user: User | None  # the account the identifier names (None: no account, or a deleted one)
    checkable: bool  # within the account's cap: its credential may really be checked
    taken: ratelimit.Taken  # the counts, made in one statement
    buckets: tuple[str | None, ...]  # what a success gives back (only failures count)


def _count_attempt(db: Session, deps: Deps, login: str, ctx: RequestContext) -> _Attempt:
    """Count one attempt against the identifier, the account and the IP address (RateLimited when
    over the identifier's or the IP's limit). The caller commits the counts (`checkpoint`) before
    the slow check, and gives the buckets back on success."""
    settings = deps.settings
    key = login_key(login)
    user = user_store.get_by_login(db, key)
    visible = user if user is not None and not user.is_deleted else None
    limit = settings.login_failures_per_account
    # Each identifier as typed (canonical form) has a bucket, whether or not it names an account,
    # so its 429 says nothing about existence, and counting first keeps the limit exact.
    name_bucket = ratelimit.subject_key("login:name", key)
    ip_bucket = ratelimit.subject_key("login:ip", ctx.ip_address) if ctx.ip_address else None
    # The account has a bucket too, however it is named, capping its real checks.
    account_bucket = ratelimit.account_key(visible.id) if visible is not None else None
    # One statement counts the attempt against all three (in this order, everywhere: the rows are
    # locked in it); what a limit refuses is withdrawn from the others before the transaction ends,
    # so it is exactly as if they were counted one by one, each only after the one before passed.
    taken = ratelimit.take_all(db, deps, *(b for b in (ip_bucket, name_bucket, account_bucket) if b))
    # one address may be many people (or every client, behind an unconfigured proxy): a device
    # that has signed in to this account before still gets its credential checked
    if taken.over(ip_bucket, settings.login_failures_per_ip) and (
        visible is None or not known_devices.knows(deps, ctx.device, visible.id)
    ):
        ratelimit.withdraw(db, taken, name_bucket, account_bucket)
        raise taken.refusal()
    if taken.over(name_bucket, limit):
        ratelimit.withdraw(db, taken, ip_bucket, account_bucket)  # refused before any check: no failure here
        raise taken.refusal()
    # Over the account's cap the answer is a wrong credential's (as for a name that is no account):
    # a 429 there would tell that this spelling names the same account as the one being guessed.
    checkable = account_bucket is not None and not taken.over(account_bucket, limit)
    return _Attempt(visible, checkable, taken, (ip_bucket, name_bucket, account_bucket))


def login_with_password(
    db: Session, deps: Deps, login: str, password: str, remember_device: bool, ctx: RequestContext
) -> AuthResult:
    """Check the password and open a session.

    Unknown user and wrong password give the same error after the same work (one Argon2
    verification). A banned user learns so only after a correct password. Failures count
    against the identifier, the account and the IP address in the database, so limits hold
    across processes; attempts are counted first (and committed) before the check, so no more than
    each limit are checked, under any concurrency.
    """
    attempt = _count_attempt(db, deps, login, ctx)
    visible = attempt.user
    # The counts are committed before Argon2 runs: no connection or bucket row lock is held while
    # it does, so logins from one address don't queue behind each other's hashing.
    checkpoint(db)
    if not check_user_password(db, deps, visible if attempt.checkable else None, password):
        audit.record(db, deps, "login.failed", ctx, user_id=visible.id if visible else None)
        raise InvalidCredentials()
    if visible is None:  # unreachable: a password only checks out against a real user
        raise InvalidCredentials()
    # only failures count (one statement for the three buckets: this is every sign-in's cost)
    ratelimit.give_back_taken(db, attempt.taken, *attempt.buckets)
    if visible.is_banned:
        audit.record(db, deps, "login.refused_suspended", ctx, user_id=visible.id)
        raise AccountSuspended()
    return _sign_in(db, deps, visible, remember_device, ctx, via="password")


# the factor each first-factor path proves, as sessions and second-factor challenges name it
_FIRST_FACTOR = {"password": "password", "login_link": "email_link", "login_code": "email_link"}


def _sign_in(db: Session, deps: Deps, user: User, long_lived: bool, ctx: RequestContext, *, via: str) -> AuthResult:
    first_factor = _FIRST_FACTOR[via]
    # A user with a second factor gets a challenge instead of a session (contract section 6).
    if needs_second_factor(db, deps, user.id):
        raise require_second_factor(
            db, deps, user, ctx, purpose="login", first_factor=first_factor, remember_device=long_lived
        )
    return open_session(db, deps, user, long_lived=long_lived, factors=(first_factor,), ctx=ctx, detail=via)


def request_login_link(db: Session, deps: Deps, login: str, ctx: RequestContext) -> None:
    """Email a one-time sign-in link and its 6-digit code (one grant) if the user exists and may
    sign in; silent either way."""
    send_user_link(
        db,
        deps,
        login,
        ctx,
        model=LoginToken,
        ttl=deps.settings.login_token_ttl,
        kind="login_link",
        event="login_link.sent",
        with_code=True,
    )


def consume_login_link(db: Session, deps: Deps, token: str, remember_device: bool, ctx: RequestContext) -> AuthResult:
    """Use a sign-in link exactly once and open a session (its code dies with it: one grant)."""
    user = use_user_link(db, deps, LoginToken, token)
    return _sign_in(db, deps, user, remember_device, ctx, via="login_link")


def login_with_code(
    db: Session, deps: Deps, login: str, code: str, remember_device: bool, ctx: RequestContext
) -> AuthResult:
    """Sign in with the 6-digit code of the user's newest sign-in email (typed on another device).

    The code and the link are one grant: using the code uses the link, and a used link kills the
    code. Like a password: counted against the login limits first (RateLimited over them), then
    one Argon2 verification whether or not there is a user or a live grant, and InvalidCode for a
    wrong code, an unknown user or no grant alike. Each grant allows MAX_CODE_ATTEMPTS codes
    (counted before the check, so exact under concurrency); the last wrong one ends the grant.
    """
    attempt = _count_attempt(db, deps, login, ctx)
    user = attempt.user
    now = deps.clock.now()
    grant = None
    if user is not None and attempt.checkable:
        grant = token_store.take_code_attempt(db, user.id, now, MAX_CODE_ATTEMPTS)
    grant_id, code_hash, tries = (grant.id, grant.code_hash, grant.code_attempts) if grant else (None, None, 0)
    checkpoint(db)  # the counts stand before Argon2 runs, with no connection or lock held
    right = deps.hasher.verify(code_hash, normalise_code(code) or "-")
    if not right or grant_id is None or user is None:
        if grant_id is not None and tries >= MAX_CODE_ATTEMPTS:
            token_store.use_grant(db, grant_id, deps.clock.now())  # the last try: the link dies too
            audit.record(db, deps, "login_code.exhausted", ctx, user_id=user.id if user else None)
        audit.record(db, deps, "login.failed", ctx, user_id=user.id if user else None, detail="login_code")
        raise InvalidCode()
    if not token_store.use_grant(db, grant_id, deps.clock.now()) or not user.can_sign_in:
        # a concurrent use of the code or the link won (or the user may no longer sign in)
        audit.record(db, deps, "login.failed", ctx, user_id=user.id, detail="login_code")
        raise InvalidCode()
    # The grant is used for good: its row lock goes now, before the buckets are given back, since
    # concurrent tries hold their buckets while they wait for this row (a cycle otherwise).
    checkpoint(db)
    ratelimit.give_back_taken(db, attempt.taken, *attempt.buckets)
    return _sign_in(db, deps, user, remember_device, ctx, via="login_code")


def normalise_code(code: str) -> str | None:
    """The 6 digits of a typed code (spaces and hyphens dropped), or None if it is not 6 digits."""
    digits = code.replace(" ", "").replace("-", "")
    if len(digits) != SIGN_IN_CODE_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    return digits
