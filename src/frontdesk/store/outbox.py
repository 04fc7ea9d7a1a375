"""Queries on the email outbox: add in the caller's transaction, claim due rows, record outcomes.

Claiming is a lease, not a held lock: `claim_due` bumps `attempts` and pushes `next_attempt_at`
to `now + lease`, and the caller commits at once and sends outside any transaction. On
PostgreSQL the claim reads with `FOR UPDATE SKIP LOCKED`, so concurrent senders never wait
for each other nor take the same row. On SQLite writers are serialised (`BEGIN IMMEDIATE`), so
a claim is atomic too; one sender is enough there. A sender that dies mid-send loses its lease,
and the row becomes due again when the lease runs out.

`attempts` doubles as a fencing token: the outcome functions only touch a row that is still
pending with the attempt count the claim produced, so a sender whose lease was taken over by
another cannot overwrite that sender's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from frontdesk.models import OutboxEmail
from frontdesk.store.rows import changed

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
STATUSES = (PENDING, SENT, FAILED)

_ERROR_LIMIT = 500  # length of `last_error`


def add(db: Session, *, now: datetime, kind: str, to: str, subject: str, text: str, html: str) -> OutboxEmail:
    """Queue an email in the caller's transaction; it is due at once."""
    email = OutboxEmail(
        created=now,
        kind=kind,
        to_address=to,
        subject=subject,
        text_body=text,
        html_body=html,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    db.add(email)
    db.flush()
    return email


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxEmail.status == PENDING,
        or_(OutboxEmail.next_attempt_at.is_(None), OutboxEmail.next_attempt_at <= now),
    )


def claim_due(db: Session, now: datetime, *, limit: int, lease: timedelta) -> list[OutboxEmail]:
    """Take up to `limit` due emails, oldest due first, for `lease`; each claim counts an attempt."""
    rows = list(
        db.scalars(
            select(OutboxEmail)
            .where(_due(now))
            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # SQLite renders no FOR UPDATE; BEGIN IMMEDIATE serialises
        )
    )
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease
    db.flush()
    return rows


def _fenced(email_id: int, attempts: int) -> ColumnElement[bool]:
    return and_(OutboxEmail.id == email_id, OutboxEmail.status == PENDING, OutboxEmail.attempts == attempts)


def mark_sent(
    db: Session, email_id: int, attempts: int, now: datetime, *, blank: tuple[str, str] | None = None
) -> bool:
    """Record a delivery; `blank` = (text, html) replaces the bodies. False if the lease was lost."""
    values: dict[str, object] = {"status": SENT, "sent_at": now, "next_attempt_at": None, "last_error": None}
    if blank is not None:
        values.update(text_body=blank[0], html_body=blank[1])
    return _update(db, email_id, attempts, values)


def mark_retry(db: Session, email_id: int, attempts: int, *, at: datetime, error: str) -> bool:
    """Keep the email pending and due again `at`, noting why this attempt failed."""
    return _update(db, email_id, attempts, {"next_attempt_at": at, "last_error": error[:_ERROR_LIMIT]})


def mark_failed(db: Session, email_id: int, attempts: int, *, error: str, blank: tuple[str, str] | None = None) -> bool:
    """Give up on the email for good, keeping the reason."""
    values: dict[str, object] = {
        "status": FAILED,
        "next_attempt_at": None,
        "last_error": error[:_ERROR_LIMIT],
    }
    if blank is not None:
        values.update(text_body=blank[0], html_body=blank[1])
    return _update(db, email_id, attempts, values)


def release(db: Session, email_id: int, attempts: int, now: datetime) -> bool:
    """Hand back a claimed email that was not tried: due now, and the claim's attempt not counted."""
    return _update(db, email_id, attempts, {"next_attempt_at": now, "attempts": attempts - 1})


def _update(db: Session, email_id: int, attempts: int, values: dict[str, object]) -> bool:
    result = db.execute(
        update(OutboxEmail)
        .where(_fenced(email_id, attempts))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return changed(result) == 1


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """How the outbox stands: for `frontdesk mail-status`, metrics and alerts."""

    pending: int
    sent: int
    failed: int
    due: int
    oldest_pending_age: timedelta | None  # None when nothing is pending


def counts(db: Session, now: datetime) -> OutboxCounts:
    """Emails per status, how many are due now, and the age of the oldest pending one."""
    by_status = dict.fromkeys(STATUSES, 0)
    rows = db.execute(select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status))
    for status, count in rows:
        by_status[status] = count
    due = db.scalar(select(func.count()).select_from(OutboxEmail).where(_due(now))) or 0
    oldest = db.scalar(select(func.min(OutboxEmail.created)).where(OutboxEmail.status == PENDING))
    age = max(now - oldest, timedelta(0)) if oldest is not None else None
    return OutboxCounts(by_status[PENDING], by_status[SENT], by_status[FAILED], due, age)


def list_recent(db: Session, *, limit: int = 50) -> list[OutboxEmail]:
    """The newest emails first (the development mailbox)."""
    return list(
        db.scalars(select(OutboxEmail).order_by(OutboxEmail.created.desc(), OutboxEmail.id.desc()).limit(limit))
    )


def get(db: Session, email_id: int) -> OutboxEmail | None:
    return db.get(OutboxEmail, email_id)


def purge(db: Session, *, before: datetime) -> int:
    """Delete sent and failed emails created before `before`; the outbox is not an archive."""
    result = db.execute(
        delete(OutboxEmail)
        .where(OutboxEmail.status.in_((SENT, FAILED)), OutboxEmail.created < before)
        .execution_options(synchronize_session=False)
    )
    return changed(result)
