"""Signing up: a verification email first, the account when its link is used."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.db import checkpoint
from frontdesk.errors import EmailTaken, InvalidUsername, RateLimited, TokenInvalid, UsernameTaken
from frontdesk.models import SignupToken
from frontdesk.service import audit, emails, ratelimit
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.identity import clean_name, normalise_email, username_forms, username_key
from frontdesk.service.passwords import check_password
from frontdesk.service.results import AuthResult
from frontdesk.service.signin import open_session
from frontdesk.store import tokens as token_store
from frontdesk.store import users as user_store


@dataclass(frozen=True, slots=True)
class UsernameStatus:
    username: str
    valid: bool
    available: bool


def username_status(db: Session, username: str) -> UsernameStatus:
    try:
        key = username_key(username)
    except InvalidUsername:
        return UsernameStatus(username, valid=False, available=False)
    return UsernameStatus(username, valid=True, available=user_store.get_by_username_key(db, key) is None)


def ip_bucket(ip_address: str) -> str:
    """The bucket of signup attempts from one address (never given back: a refusal holds all window)."""
    return ratelimit.subject_key("signup:ip", ip_address)


def refused_signup(deps: Deps, ip_address: str | None) -> RateLimited | None:
    """The refusal this process already saw for signups from this address in this window, if any:
    the web layer answers it before reading the request (see `service/refusals.py`)."""
    return ratelimit.remembered_refusal(deps, ip_bucket(ip_address)) if ip_address else None


def request_signup(
    db: Session, deps: Deps, *, email: str, username: str, password: str, name: str, ctx: RequestContext
) -> None:
    """Validate, then email a confirmation link; if the email is registered, warn its owner instead.

    The answer is the same in both cases, so signup does not reveal who has an account. This
    use case commits twice (the per-IP count, then the rest), so it must not be composed into
    another's transaction.
    """
    username, ukey = username_forms(username)
    shown_email, ekey = normalise_email(email)
    name = clean_name(name)
    check_password(password, deps.settings.product_name, username=username, email=shown_email)
    if ctx.ip_address:  # counted first, before any hashing: signup is no free Argon2 pump
        ratelimit.take(db, deps, ip_bucket(ctx.ip_address), deps.settings.signups_per_ip, remember=True)
    if user_store.get_by_username_key(db, ukey) is not None:
        raise UsernameTaken()
    # Argon2 runs between two transactions: the count above is committed first, so no database
    # connection, row lock (or, on SQLite, the write lock) is held while it hashes, and a flood
    # of signups can't starve other requests of connections. Every branch below pays for it.
    checkpoint(db)
    hashed_password = deps.hasher.hash(password)
    existing = user_store.get_by_email_key(db, ekey)
    if not emails.may_send(db, deps, ekey, ctx):
        return
    if existing is not None:
        emails.send(
            db,
            deps,
            kind="signup_existing",
            to=existing.email,
            context={
                "name": existing.name,
                "login_link": f"{deps.settings.public_url}/login",
                "reset_link": f"{deps.settings.public_url}/forgot-password",
            },
        )
        audit.record(db, deps, "signup.existing_email", ctx, user_id=existing.id)
        return
    token = crypto.new_email_token()
    now = deps.clock.now()
    token_store.add(
        db,
        SignupToken(
            token_hash=crypto.digest(token),
            created=now,
            expiry=now + deps.settings.signup_token_ttl,
            email=shown_email,
            email_key=ekey,
            username=username,
            username_key=ukey,
            name=name,
            hashed_password=hashed_password,
        ),
    )
    emails.send(
        db,
        deps,
        kind="signup_confirm",
        to=shown_email,
        # the address is not verified yet, so nothing the requester typed goes in (an attacker
        # could otherwise send any text to any inbox under the product's name)
        context={"name": "there", "link": emails.link(deps, "signup_confirm", token)},
    )
    audit.record(db, deps, "signup.requested", ctx)


def confirm_signup(db: Session, deps: Deps, token: str, ctx: RequestContext) -> AuthResult:
    """Use the confirmation link once: the user now exists and is signed in (short-lived session)."""
    pending = token_store.consume(db, SignupToken, crypto.digest(token), deps.clock.now())
    if pending is None:
        raise TokenInvalid()
    try:
        user = create_user(
            db,
            deps,
            email=pending.email,
            username=pending.username,
            password="",
            name=pending.name,
            ctx=ctx,
            hashed_password=pending.hashed_password,
        )
    except EmailTaken:
        raise TokenInvalid("This email address is already registered; sign in instead.") from None
    except UsernameTaken:
        raise UsernameTaken() from None
    # the confirmation link proved the email address: the session's first factor (contract section 6)
    # and its device is the account's first: never news (contract section 7, new-device notices)
    return open_session(db, deps, user, long_lived=False, factors=("email_link",), ctx=ctx, event="signup.confirmed")
