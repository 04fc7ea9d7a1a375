"""Deleting an account, with a grace period in which its restore link brings it back, and
erasing it once the grace is over (contract section 7).

A deleted account can't sign in by any means (every sign-in path asks `User.can_sign_in`, the
session check refuses deleted users) until its restore link is used. Erasure keeps the row, so the
username stays reserved, but blanks everything else held about the person.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from frontdesk import crypto
from frontdesk.db import transaction
from frontdesk.errors import InvalidCredentials, NotFound, TokenInvalid
from frontdesk.models import AccountRestoreToken, EmailChangeToken, LoginToken, PasswordResetToken, User
from frontdesk.service import audit, emails
from frontdesk.service.challenges import needs_second_factor, require_second_factor
from frontdesk.service.context import NO_CONTEXT, Principal, RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.results import AuthResult
from frontdesk.service.signin import open_session
from frontdesk.store import lifecycle as store
from frontdesk.store import sessions as session_store
from frontdesk.store import tokens as token_store
from frontdesk.store import users as user_store

ERASED_EMAIL_KEY = "erased:{id}"  # no address looks like this (no "@"), and it keeps email_key unique


def delete_own_account(db: Session, deps: Deps, principal: Principal, ctx: RequestContext) -> datetime:
    """The caller deletes their account (a fresh session); returns when it will be erased."""
    user = user_store.get_for_update(db, principal.user_id)
    if user is None or not user.can_sign_in:
        raise InvalidCredentials()
    return schedule_deletion(db, deps, user, ctx, actor_id=user.id)


def schedule_deletion(db: Session, deps: Deps, user: User, ctx: RequestContext, *, actor_id: int | None) -> datetime:
    """Delete now, erase after FRONTDESK_ACCOUNT_DELETION_GRACE: every session and API key ends at
    once, outstanding sign-in, reset and email-change links end, and the owner is emailed a
    single-use restore link. Undo links of an email change stay: the owner may need them."""
    if user.is_deleted:
        raise NotFound("user")  # already deleted (or erased)
    now = deps.clock.now()
    user.is_deleted = True
    user.deleted_at = now
    ended = session_store.end_for_user(db, user.id, now)
    for model in (LoginToken, PasswordResetToken, EmailChangeToken, AccountRestoreToken):
        token_store.revoke_for_user(db, model, user.id, now)
    erase_at = now + deps.settings.account_deletion_grace
    send_restore_link(db, deps, user, erase_at=erase_at)
    audit.record(db, deps, "account.deleted", ctx, user_id=user.id, detail=f"by={actor_id} sessions_ended={ended}")
    return erase_at


def send_restore_link(db: Session, deps: Deps, user: User, *, erase_at: datetime) -> None:
    """Email the account's address a restore link that works until `erase_at`."""
    now = deps.clock.now()
    token = crypto.new_email_token()
    token_store.add(
        db,
        AccountRestoreToken(token_hash=crypto.digest(token), user_id=user.id, created=now, expiry=erase_at),
    )
    emails.send(
        db,
        deps,
        kind="account_deleted",
        to=user.email,
        context={
            "name": user.name,
            "link": emails.link(deps, "account_deleted", token),
            "erase_on": erase_at.strftime("%Y-%m-%d %H:%M UTC"),
        },
    )


def restore_account(db: Session, deps: Deps, token: str, remember_device: bool, ctx: RequestContext) -> AuthResult:
    """Use a restore link once, within the grace: the account is back and signed in (the link
    proves the email, like a sign-in link; a user with a second factor goes on to the second step)."""
    now = deps.clock.now()
    row = token_store.consume(db, AccountRestoreToken, crypto.digest(token), now)
    user = user_store.get_for_update(db, row.user_id) if row else None
    if row is None or user is None or not _restorable(deps, user, now):
        raise TokenInvalid()
    user.is_deleted = False
    user.deleted_at = None
    token_store.revoke_for_user(db, AccountRestoreToken, user.id, now)
    audit.record(db, deps, "account.restored", ctx, user_id=user.id)
    if needs_second_factor(db, deps, user.id):
        raise require_second_factor(
            db, deps, user, ctx, purpose="login", first_factor="email_link", remember_device=remember_device
        )
    return open_session(db, deps, user, long_lived=remember_device, factors=("email_link",), ctx=ctx)


def _restorable(deps: Deps, user: User, now: datetime) -> bool:
    if not user.is_deleted or user.erased_at is not None or user.is_banned or user.deleted_at is None:
        return False
    return now <= user.deleted_at + deps.settings.account_deletion_grace


def erase_account(db: Session, deps: Deps, user: User, *, actor_id: int | None) -> None:
    """Erase a deleted account now: its name, email, password hash, sessions, tokens, factors,
    identities and the emails sent to it go, and the audit trail keeps no IP address or user agent.
    The row stays, deleted for good, so its username is never handed out again; its email is free."""
    now = deps.clock.now()
    addresses = store.addresses_of(db, user)
    mine = addresses - store.owners_of(db, addresses, except_user_id=user.id)
    store.delete_emails_to(db, mine)
    store.delete_rows_of(db, user.id)
    store.strip_audit_trail(db, user.id)
    user.name = ""
    user.email = ""
    user.email_key = ERASED_EMAIL_KEY.format(id=user.id)
    user.hashed_password = None
    user.is_superuser = False
    user.is_deleted = True
    user.deleted_at = user.deleted_at or now
    user.erased_at = now
    # recorded without the request's address: the erased account's trail keeps none
    audit.record(db, deps, "account.erased", NO_CONTEXT, user_id=user.id, detail=f"by={actor_id}")


def erase_now(db: Session, deps: Deps, user: User, *, actor_id: int | None) -> None:
    """Delete and erase at once (an administrator's `delete-user --now`): no restore link."""
    if user.erased_at is not None:
        raise NotFound("user")
    erase_account(db, deps, user, actor_id=actor_id)


def erase_due(factory: sessionmaker[Session], deps: Deps, *, batch_size: int = 100, max_batches: int = 10_000) -> int:
    """Erase every account whose grace ended, `batch_size` accounts per short transaction."""
    cutoff = deps.clock.now() - deps.settings.account_deletion_grace
    erased = 0
    for _ in range(max_batches):
        with transaction(factory) as db:
            ids = store.due_for_erasure(db, cutoff, batch_size)
            for user_id in ids:
                user = user_store.get(db, user_id)
                if user is not None:
                    erase_account(db, deps, user, actor_id=None)
        erased += len(ids)
        if len(ids) < batch_size:
            break
    return erased
