"""One-time links to an existing user (sign-in links, password resets): sending and using them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.db import checkpoint
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
    with_code: bool = False,
) -> None:
    """Email a one-time link of `kind` if `login` names a user who may sign in; silent otherwise,
    and silent over the sending limits, so the caller's answer is the same in every case.

    `with_code` (sign-in links): the email also carries a 6-digit code, the same grant as the link,
    stored as an Argon2id hash. The hash is made first, with no connection held, and only when the
    sending limits would let the email go; the count, the grant and the email then commit together
    in one transaction, as for any link.
    """
    if with_code and model is not LoginToken:
        raise ValueError("only sign-in links carry a code")
    user = find_user(db, login)
    if user is None or not user.can_sign_in:
        return
    code = code_hash = None
    if with_code and emails.within_limits(db, deps, user.email_key, ctx):
        checkpoint(db)  # nothing written yet: this only hands the connection back while Argon2 runs
        code, code_hash = _new_code(deps)
    if not emails.may_send(db, deps, user.email_key, ctx):
        return
    if with_code and code is None:  # the limits' window turned over meanwhile (rare): hash it now
        code, code_hash = _new_code(deps)
    token = crypto.new_email_token()
    context = {"name": user.name, "link": emails.link(deps, kind, token)}
    now = deps.clock.now()
    row = model(token_hash=crypto.digest(token), user_id=user.id, created=now, expiry=now + ttl)
    if code is not None and isinstance(row, LoginToken):
        row.code_hash = code_hash
        context["code"] = code
    token_store.add(db, row)
    emails.send(db, deps, kind=kind, to=user.email, context=context)
    audit.record(db, deps, event, ctx, user_id=user.id)


def _new_code(deps: Deps) -> tuple[str, str]:
    """A sign-in code and its Argon2id hash (through the password hasher's queue)."""
    code = crypto.new_sign_in_code()
    return code, deps.hasher.hash(code)


def use_user_link(db: Session, deps: Deps, model: UserLinkModel, token: str) -> User:
    """Consume the link's token exactly once; TokenInvalid unless its user may still sign in."""
    row = token_store.consume(db, model, crypto.digest(token), deps.clock.now())
    user = user_store.get(db, row.user_id) if row else None
    if user is None or not user.can_sign_in:
        raise TokenInvalid()
    return user
