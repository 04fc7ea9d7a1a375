"""Queue an email in the caller's transaction (the transactional outbox).

The row commits with the token it carries, or neither does: a rolled-back signup sends nothing,
and a committed one is sent even if the process dies right after. Delivery is `worker.py`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from frontdesk.mail.render import render
from frontdesk.metrics import EMAILS
from frontdesk.settings import Settings
from frontdesk.store import outbox


def enqueue_email(
    db: Session, settings: Settings, now: datetime, *, kind: str, to: str, context: Mapping[str, str]
) -> None:
    """Render the email and add an OutboxEmail row in the caller's transaction (never commits)."""
    if not to or "@" not in to or any(ch in to for ch in "\r\n\0"):
        raise ValueError("enqueue_email needs one plain email address")
    email = render(settings, kind, context)
    outbox.add(db, now=now, kind=kind, to=to, subject=email.subject, text=email.text, html=email.html)
    EMAILS.labels("queued").inc()  # counted when queued; a rolled-back action may leave it one high
