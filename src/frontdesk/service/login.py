"""Signing in: with a password, or with a one-time link sent by email."""

from __future__ import annotations

from sqlalchemy.orm import Session

from frontdesk.db import checkpoint
from frontdesk.errors import AccountSuspended, InvalidCredentials
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
from frontdesk.store import users as user_store


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
    settings = deps.settings
    key = login_key(login)
    user = user_store.get_by_login(db, key)
    visible = user if user is not None and not user.is_deleted else None
    limit = settings.login_failures_per_account
    # Each identifier as typed (canonical form) has a bucket, whether or not it names an account,
    # so its 429 says nothing about existence, and counting first keeps the limit exact.
    name_bucket = ratelimit.subject_key("login:name", key)
    ip_bucket = ratelimit.subject_key("login:ip", ctx.ip_address) if ctx.ip_address else None
    # The account has a bucket too, however it is named, capping its real password checks.
    account_bucket = ratelimit.account_key(visible.id) if visible is not None else None
    # One statement counts the attempt against all three (in this order, everywhere: the rows are
    # locked in it); what a limit refuses is withdrawn from the others before the transaction ends,
    # so it is exactly as if they were counted one by one, each only after the one before passed.
    taken = ratelimit.take_all(db, deps, *(b for b in (ip_bucket, name_bucket, account_bucket) if b))
    # one address may be many people (or every client, behind an unconfigured proxy): a device
    # that has signed in to this account before still gets its password checked
    if taken.over(ip_bucket, settings.login_failures_per_ip) and (
        visible is None or not known_devices.knows(deps, ctx.device, visible.id)
    ):
        ratelimit.withdraw(db, taken, name_bucket, account_bucket)
        raise taken.refusal()
    if taken.over(name_bucket, limit):
        ratelimit.withdraw(db, taken, ip_bucket, account_bucket)  # refused before any check: no failure here
        raise taken.refusal()
    # Over the account's cap the answer is a wrong password's (as for a name that is no account):
    # a 429 there would tell that this spelling names the same account as the one being guessed.
    checkable = account_bucket is not None and not taken.over(account_bucket, limit)
    # The counts are committed before Argon2 runs: no connection or bucket row lock is held while
    # it does, so logins from one address don't queue behind each other's hashing.
    checkpoint(db)
    if not check_user_password(db, deps, visible if checkable else None, password):
        audit.record(db, deps, "login.failed", ctx, user_id=visible.id if visible else None)
        raise InvalidCredentials()
    if visible is None or account_bucket is None:  # unreachable: a password only checks out against a real user
        raise InvalidCredentials()
    # only failures count (one statement for the three buckets: this is every sign-in's cost)
    ratelimit.give_back_taken(db, taken, ip_bucket, name_bucket, account_bucket)
    if visible.is_banned:
        audit.record(db, deps, "login.refused_suspended", ctx, user_id=visible.id)
        raise AccountSuspended()
    return _sign_in(db, deps, visible, remember_device, ctx, via="password")


# the factor each first-factor path proves, as sessions and second-factor challenges name it
_FIRST_FACTOR = {"password": "password", "login_link": "email_link"}


def _sign_in(db: Session, deps: Deps, user: User, long_lived: bool, ctx: RequestContext, *, via: str) -> AuthResult:
    first_factor = _FIRST_FACTOR[via]
    # A user with a second factor gets a challenge instead of a session (contract section 6).
    if needs_second_factor(db, deps, user.id):
        raise require_second_factor(
            db, deps, user, ctx, purpose="login", first_factor=first_factor, remember_device=long_lived
        )
    return open_session(db, deps, user, long_lived=long_lived, factors=(first_factor,), ctx=ctx, detail=via)


def request_login_link(db: Session, deps: Deps, login: str, ctx: RequestContext) -> None:
    """Email a one-time sign-in link if the user exists and may sign in; silent either way."""
    send_user_link(
        db,
        deps,
        login,
        ctx,
        model=LoginToken,
        ttl=deps.settings.login_token_ttl,
        kind="login_link",
        event="login_link.sent",
    )


def consume_login_link(db: Session, deps: Deps, token: str, remember_device: bool, ctx: RequestContext) -> AuthResult:
    """Use a sign-in link exactly once and open a session."""
    user = use_user_link(db, deps, LoginToken, token)
    return _sign_in(db, deps, user, remember_device, ctx, via="login_link")
