"""One-time links to an existing user (sign-in links, password resets): sending and using them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.errors import TokenInvalid
from frontdesk.models import LoginToken, PasswordResetToken, User
from frontdesk.service import audit, emails
from frontdesk.service.accounts import find_user
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.store import tokens as token_store
from frontdesk.store import users as user_store

UserLinkModel = type[LoginToken] | type[PasswordResetToken]


def send_user_link(
    db: Session,
    deps: Deps,
    login: str,
    ctx: RequestContext,
    *,
    model: UserLinkModel,
    ttl: timedelta,
    kind: str,
    event: str,
) -> None:
    """Email a one-time link of `kind` if `login` names a user who may sign in; silent otherwise,
    and silent over the sending limits, so the caller's answer is the same in every case."""
    user = find_user(db, login)
    if user is None or not user.can_sign_in:
        return
    if not emails.may_send(db, deps, user.email_key, ctx):
        return
    token = crypto.new_email_token()
    now = deps.clock.now()
    token_store.add(db, model(token_hash=crypto.digest(token), user_id=user.id, created=now, expiry=now + ttl))
    emails.send(db, deps, kind=kind, to=user.email, context={"name": user.name, "link": emails.link(deps, kind, token)})
    audit.record(db, deps, event, ctx, user_id=user.id)


def use_user_link(db: Session, deps: Deps, model: UserLinkModel, token: str) -> User:
    """Consume the link's token exactly once; TokenInvalid unless its user may still sign in."""
    row = token_store.consume(db, model, crypto.digest(token), deps.clock.now())
    user = user_store.get(db, row.user_id) if row else None
    if user is None or not user.can_sign_in:
        raise TokenInvalid()
    return user
