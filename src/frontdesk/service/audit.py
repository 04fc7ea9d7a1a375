"""Recording security-relevant events (contract section 4) and logging them without secrets."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from frontdesk.models import AuthEvent
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.store import audit as audit_store

log = logging.getLogger("frontdesk.audit")


def record(
    db: Session,
    deps: Deps,
    event: str,
    ctx: RequestContext,
    *,
    user_id: int | None = None,
    session_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Add an audit row in the caller's transaction and log the event with ids only."""
    audit_store.record(
        db,
        AuthEvent(
            created=deps.clock.now(),
            event=event,
            user_id=user_id,
            session_id=session_id,
            ip_address=ctx.ip_address,
            user_agent=ctx.user_agent,
            detail=detail,
        ),
    )
    log.info(event, extra={"user_id": user_id, "session_id": session_id, "detail": detail})
