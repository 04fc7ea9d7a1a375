"""Users: create, find, verify passwords, change passwords, ban, delete."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from frontdesk.errors import EmailTaken, InvalidCredentials, NotFound, UsernameTaken
from frontdesk.mail import enqueue_email
from frontdesk.models import LoginToken, PasswordResetToken, User
from frontdesk.service import audit, freshness, ratelimit
from frontdesk.service.context import Principal, RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.devices import describe
from frontdesk.service.identity import clean_name, login_key, normalise_email, username_forms
from frontdesk.service.passwords import check_password
from frontdesk.store import sessions as session_store
from frontdesk.store import tokens as token_store
from frontdesk.store import users as store


def create_user(
    db: Session,
    deps: Deps,
    *,
    email: str,
    username: str,
    password: str | None,
    name: str,
    ctx: RequestContext,
    is_superuser: bool = False,
    hashed_password: str | None = None,
) -> User:
    """Create a user after checking every rule; `hashed_password` skips hashing for a verified signup,
    and `password=None` (without a hash) makes an account with no password (social sign-in)."""
    username, ukey = username_forms(username)
    shown_email, ekey = normalise_email(email)
    name = clean_name(name)
    if hashed_password is None and password is not None:
        check_password(password, deps.settings.product_name, username=username, email=shown_email)
        hashed_password = deps.hasher.hash(password)
    if store.get_by_username_key(db, ukey) is not None:
        raise UsernameTaken()
    if store.get_by_email_key(db, ekey) is not None:
        raise EmailTaken()
    now = deps.clock.now()
    user = User(
        username=username,
        username_key=ukey,
        email=shown_email,
        email_key=ekey,
        name=name,
        hashed_password=hashed_password,
        created=now,
        last_active=now,
        is_superuser=is_superuser,
    )
    try:
        with db.begin_nested():
            store.add(db, user)
    except IntegrityError:
        # A concurrent creation won the race for the username or the email; the savepoint is
        # gone and the winner committed, so a fresh read says which one (the same answer as
        # without the race: EmailTaken for the email, UsernameTaken for the username).
        if store.get_by_email_key(db, ekey) is not None:
            raise EmailTaken() from None
        raise UsernameTaken() from None
    audit.record(db, deps, "user.created", ctx, user_id=user.id)
    return user


def find_user(db: Session, login: str) -> User | None:
    """By username or email, case-insensitively (and NFKC-normalised)."""
    return store.get_by_login(db, login_key(login))


def find_user_by_ref(db: Session, ref: str) -> User:
    """By id, username or email (administrative tools); NotFound otherwise."""
    user = store.get(db, int(ref)) if ref.isdigit() and int(ref) < 2**63 else None
    user = user or find_user(db, ref)
    if user is None:
        raise NotFound("user")
    return user


def check_user_password(db: Session, deps: Deps, user: User | None, password: str) -> bool:
    """Verify a password (same cost for a missing user) and upgrade the hash if parameters changed."""
    if user is None:
        deps.hasher.burn(password)
        return False
    # an account without a password (made by social sign-in) costs the same and never matches
    if not deps.hasher.verify(user.hashed_password, password) or user.hashed_password is None:
        return False
    if deps.hasher.needs_rehash(user.hashed_password):
        user.hashed_password = deps.hasher.hash(password)  # written once, at the flush
    return True


def check_own_password(db: Session, deps: Deps, user: User, password: str, ctx: RequestContext, *, event: str) -> None:
    """Confirm a signed-in user's password (to change it, to create an API key).

    Failures count against the same per-account limit as failed logins, so a stolen session
    cannot be used to guess the password at leisure.
    """
    bucket = ratelimit.account_key(user.id)
    ratelimit.take(db, deps, bucket, deps.settings.login_failures_per_account)
    if not deps.hasher.verify(user.hashed_password, password):
        audit.record(db, deps, event, ctx, user_id=user.id)
        raise InvalidCredentials()
    ratelimit.give_back(db, deps, bucket)


def set_password(db: Session, deps: Deps, user: User, new_password: str, ctx: RequestContext) -> None:
    """Store a new password, end outstanding login/reset tokens and tell the user by email."""
    set_password_hash(db, deps, user, deps.hasher.hash(new_password), ctx)


def set_password_hash(db: Session, deps: Deps, user: User, hashed_password: str, ctx: RequestContext) -> None:
    """`set_password` with the Argon2 hash already made (a reset waiting for its second step)."""
    user.hashed_password = hashed_password  # written once, at the flush
    now = deps.clock.now()
    token_store.revoke_for_user(db, LoginToken, user.id, now)
    token_store.revoke_for_user(db, PasswordResetToken, user.id, now)
    enqueue_email(
        db,
        deps.settings,
        now,
        kind="password_changed",
        to=user.email,
        context={
            "name": user.name,
            "when": now.strftime("%Y-%m-%d %H:%M UTC"),
            "ip_address": ctx.ip_address or "unknown",
            "browser": describe(ctx.user_agent).browser if ctx.user_agent else "unknown",
        },
    )


def change_password(
    db: Session,
    deps: Deps,
    principal: Principal,
    old_password: str,
    new_password: str,
    ctx: RequestContext,
    *,
    keep_api_keys: bool = False,
) -> int:
    """Change the caller's password; every other session ends, API keys too unless `keep_api_keys`.
    Returns how many ended.

    A stale session needs a re-authentication first (ReauthenticationRequired), unless the user
    has no second factor: then `old_password` counts as one (`freshness.password_may_reauthenticate`).
    """
    reauthenticating = freshness.password_may_reauthenticate(db, deps, principal)
    user = store.get(db, principal.user_id)
    if user is None:
        raise InvalidCredentials()
    check_own_password(db, deps, user, old_password, ctx, event="password.change_refused")
    if reauthenticating:
        freshness.renew(db, deps, principal, "password")
    check_password(
        new_password, deps.settings.product_name, field="new_password", username=user.username, email=user.email
    )
    set_password(db, deps, user, new_password, ctx)
    ended = session_store.end_for_user(
        db, user.id, deps.clock.now(), except_session_id=principal.session_id, cookies_only=keep_api_keys
    )
    audit.record(db, deps, "password.changed", ctx, user_id=user.id, detail=f"sessions_ended={ended}")
    return ended


def set_banned(
    db: Session, deps: Deps, user_id: int, banned: bool, ctx: RequestContext, *, actor_id: int | None
) -> None:
    """Ban or unban. A ban takes effect on the next request everywhere (validity checks the user row)
    and ends every session and API key for good, so an unban brings none of them back."""
    user = store.get(db, user_id)
    if user is None:
        raise NotFound("user")
    user.is_banned = banned
    if banned:
        session_store.end_for_user(db, user_id, deps.clock.now())
    audit.record(db, deps, "user.banned" if banned else "user.unbanned", ctx, user_id=user_id, detail=f"by={actor_id}")


def delete_user(db: Session, deps: Deps, user_id: int, ctx: RequestContext, *, actor_id: int | None) -> None:
    """Soft-delete: the row stays (its username and email stay taken), every session ends."""
    user = store.get(db, user_id)
    if user is None:
        raise NotFound("user")
    user.is_deleted = True
    session_store.end_for_user(db, user_id, deps.clock.now())
    audit.record(db, deps, "user.deleted", ctx, user_id=user_id, detail=f"by={actor_id}")
