"""Changing a user's email address, approved by both addresses (contract section 7).

request (a fresh session) → a confirm link to the new address and a notice to the old one;
confirm (the link) → the new address is the account's, and the old one gets an undo link;
undo (that link) → the old address is back, every way in that was added since is gone, every
session, key and link ends, and the old address gets a link to choose a new password.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.errors import Forbidden, InvalidCredentials, InvalidInput, TokenInvalid
from frontdesk.models import (
    AccountRestoreToken,
    EmailChangeToken,
    EmailRevertToken,
    LoginToken,
    PasswordResetToken,
    User,
)
from frontdesk.service import audit, emails, factors
from frontdesk.service.context import Principal, RequestContext
from frontdesk.service.deletion import send_restore_link
from frontdesk.service.deps import Deps
from frontdesk.service.devices import describe
from frontdesk.service.identity import normalise_email
from frontdesk.store import lifecycle as store
from frontdesk.store import recovery_codes as code_store
from frontdesk.store import sessions as session_store
from frontdesk.store import tokens as token_store
from frontdesk.store import users as user_store


def request_email_change(db: Session, deps: Deps, principal: Principal, new_email: str, ctx: RequestContext) -> None:
    """Email a confirm link to `new_email` and a notice to the current address.

    The notice is the same whether or not `new_email` belongs to another account; if it does,
    nothing changes and that account's owner is told instead (the caller answers 202 either way).
    A new request replaces an earlier pending one.
    """
    if principal.is_api_key:
        raise Forbidden("Change your email from a signed-in browser, not with an API key.")
    shown, key = normalise_email(new_email)
    user = user_store.get_for_update(db, principal.user_id)
    if user is None or not user.can_sign_in:
        raise InvalidCredentials()
    if key == user.email_key:
        raise InvalidInput("That is already your email address.", field="new_email")
    now = deps.clock.now()
    device = describe(ctx.user_agent)
    emails.send(
        db,
        deps,
        kind="email_change_requested",
        to=user.email,
        context={
            "name": user.name,
            "new_email": shown,
            "when": now.strftime("%Y-%m-%d %H:%M UTC"),
            "ip_address": ctx.ip_address or "unknown",
            "browser": f"{device.browser} on {device.operating_system}",
        },
    )
    owner = user_store.get_by_email_key(db, key)
    if owner is not None:
        if emails.may_send(db, deps, owner.email_key, ctx):
            emails.send(db, deps, kind="email_change_taken", to=owner.email, context={"name": owner.name})
        audit.record(db, deps, "email_change.refused_taken", ctx, user_id=user.id, session_id=principal.session_id)
        return
    token_store.revoke_for_user(db, EmailChangeToken, user.id, now)
    if emails.may_send(db, deps, key, ctx):
        token = crypto.new_email_token()
        token_store.add(
            db,
            EmailChangeToken(
                token_hash=crypto.digest(token),
                user_id=user.id,
                email=shown,
                email_key=key,
                created=now,
                expiry=now + deps.settings.email_change_token_ttl,
            ),
        )
        emails.send(
            db,
            deps,
            kind="email_change_confirm",
            to=shown,
            context={"name": user.name, "link": emails.link(deps, "email_change_confirm", token)},
        )
    audit.record(db, deps, "email_change.requested", ctx, user_id=user.id, session_id=principal.session_id)


def confirm_email_change(db: Session, deps: Deps, token: str, ctx: RequestContext) -> str:
    """Use the confirm link once: the new address is the account's (returned), links sent to the
    old one end, and the old one gets a single-use undo link."""
    now = deps.clock.now()
    row = token_store.consume(db, EmailChangeToken, crypto.digest(token), now)
    user = user_store.get_for_update(db, row.user_id) if row else None
    if row is None or user is None or not user.can_sign_in:
        raise TokenInvalid()
    old_email, old_key = user.email, user.email_key
    _move(db, user, row.email, row.email_key)
    _end_links(db, user.id, now)
    undo = crypto.new_email_token()
    token_store.add(
        db,
        EmailRevertToken(
            token_hash=crypto.digest(undo),
            user_id=user.id,
            email=old_email,
            email_key=old_key,
            password_hash=user.hashed_password,
            created=now,
            expiry=now + deps.settings.email_revert_token_ttl,
        ),
    )
    emails.send(
        db,
        deps,
        kind="email_changed",
        to=old_email,
        context={"name": user.name, "new_email": user.email, "link": emails.link(deps, "email_changed", undo)},
    )
    audit.record(db, deps, "email.changed", ctx, user_id=user.id)
    return user.email


def revert_email_change(db: Session, deps: Deps, token: str, ctx: RequestContext) -> None:
    """Use an undo link once, for the account's owner against whoever changed the address:

    - the old address is back;
    - the password in place before the change is back, if it was changed since (so a takeover
      that went on to reset the password through the new inbox is undone too);
    - second factors, recovery codes and social identities added since the change are removed,
      and any sign-in half-way through is ended;
    - every session and API key ends, and every outstanding link (sign-in, reset, email change,
      undo links issued after this one, restore) ends;
    - the old address gets a link to choose a new password, or, if the account was deleted
      since, a new restore link (the erasure date stays the same).
    """
    now = deps.clock.now()
    row = token_store.consume(db, EmailRevertToken, crypto.digest(token), now)
    user = user_store.get_for_update(db, row.user_id) if row else None
    if row is None or user is None or user.erased_at is not None or user.is_banned:
        raise TokenInvalid()
    if row.email_key != user.email_key:
        _move(db, user, row.email, row.email_key)
    if user.hashed_password != row.password_hash:
        user.hashed_password = row.password_hash
    removed = store.remove_ways_in_since(db, user.id, row.created)
    if not factors.has_second_factor(db, deps, user.id):
        code_store.remove_all(db, user.id)
    ended = session_store.end_for_user(db, user.id, now)
    _end_links(db, user.id, now)
    store.revoke_reverts_newer_than(db, user.id, row.id, now)
    token_store.revoke_for_user(db, AccountRestoreToken, user.id, now)
    if user.is_deleted and user.deleted_at is not None:
        send_restore_link(db, deps, user, erase_at=user.deleted_at + deps.settings.account_deletion_grace)
    else:
        reset = crypto.new_email_token()
        token_store.add(
            db,
            PasswordResetToken(
                token_hash=crypto.digest(reset),
                user_id=user.id,
                created=now,
                expiry=now + deps.settings.reset_token_ttl,
            ),
        )
        emails.send(
            db,
            deps,
            kind="email_reverted",
            to=user.email,
            context={"name": user.name, "link": emails.link(deps, "email_reverted", reset)},
        )
    audit.record(
        db, deps, "email.reverted", ctx, user_id=user.id, detail=f"sessions_ended={ended} ways_in_removed={removed}"
    )


def _move(db: Session, user: User, email: str, email_key: str) -> None:
    """Make `email` the user's address; TokenInvalid if another account holds it now."""
    other = user_store.get_by_email_key(db, email_key)
    if other is not None and other.id != user.id:
        raise TokenInvalid("That email address now belongs to another account.")
    user.email, user.email_key = email, email_key
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:  # another account took it at this very moment
        raise TokenInvalid("That email address now belongs to another account.") from None


def _end_links(db: Session, user_id: int, now: datetime) -> None:
    """The address changed: links sent before (sign-in, reset, pending email changes) end."""
    for model in (LoginToken, PasswordResetToken, EmailChangeToken):
        token_store.revoke_for_user(db, model, user_id, now)


LIFECYCLE_LINKS: dict[str, type[EmailChangeToken] | type[EmailRevertToken] | type[AccountRestoreToken]] = {
    "email_change": EmailChangeToken,
    "email_revert": EmailRevertToken,
    "restore": AccountRestoreToken,
}


def lifecycle_link_is_live(db: Session, deps: Deps, kind: str, token: str) -> bool:
    """Whether an email-change, undo or restore link would still work (read only: opening a link,
    as mail scanners do, never uses it)."""
    if not token or len(token) > crypto.MAX_TOKEN_LENGTH:
        return False
    model = LIFECYCLE_LINKS[kind]
    return token_store.peek(db, model, crypto.digest(token), deps.clock.now()) is not None
