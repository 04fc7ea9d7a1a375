"""Administrator actions that are more than a flag: API keys delivered by email."""

from __future__ import annotations

from sqlalchemy.orm import Session

from frontdesk.errors import Forbidden, NotFound
from frontdesk.service import audit, emails
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.service.sessions import IssuedSession, api_key_ttl, issue_session
from frontdesk.store import users as user_store


def issue_api_key(
    db: Session,
    deps: Deps,
    user_id: int,
    expiry_days: int | None,
    ctx: RequestContext,
    *,
    actor_id: int | None,
    name: str = "Issued by an administrator",
    email_it: bool = True,
) -> IssuedSession:
    """Create an API key for a user. Through the API it is emailed to the user and never returned
    to the administrator (as Couchers does); the CLI prints it once instead. It lives `expiry_days`
    (FRONTDESK_API_KEY_DEFAULT_DAYS when None)."""
    ttl = api_key_ttl(deps, expiry_days)
    user = user_store.get(db, user_id)
    if user is None or user.is_deleted:
        raise NotFound("user")
    if user.is_banned:
        raise Forbidden("That user is suspended; unban them first.")
    issued = issue_session(db, deps, user, ctx, long_lived=True, is_api_key=True, name=name, ttl=ttl)
    if email_it:
        emails.send(
            db,
            deps,
            kind="api_key_created",
            to=user.email,
            context={
                "name": user.name,
                "key_name": name,
                "token": issued.token,
                "expiry": issued.session.expiry.strftime("%Y-%m-%d"),
            },
        )
    audit.record(
        db,
        deps,
        "api_key.created",
        ctx,
        user_id=user.id,
        session_id=issued.session.id,
        detail=f"by={actor_id}",
    )
    return issued
