"""Read-only views of the outbox: the development mailbox (/dev/mail) and `frontdesk mail-status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from frontdesk.store import outbox
from frontdesk.store.outbox import OutboxCounts


@dataclass(frozen=True, slots=True)
class MailboxEntry:
    """One email as the development mailbox shows it. Bodies of sent emails may be blanked."""

    id: int
    to: str
    subject: str
    text: str
    html: str
    created: datetime
    status: str

    def __repr__(self) -> str:  # the bodies may hold a live token
        return f"MailboxEntry(id={self.id}, subject={self.subject!r}, status={self.status!r})"

    def to_json(self) -> dict[str, str | int]:
        """The `/dev/mail.json` shape: id, to, subject, text, html, created (RFC 3339 UTC)."""
        created = self.created.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return {
            "id": self.id,
            "to": self.to,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "created": created,
        }


def list_mailbox(db: Session, *, limit: int = 50) -> list[MailboxEntry]:
    """The newest `limit` emails first. Only for development: the caller must refuse in production."""
    return [
        MailboxEntry(e.id, e.to_address, e.subject, e.text_body, e.html_body, e.created, e.status)
        for e in outbox.list_recent(db, limit=max(1, min(limit, 500)))
    ]


def outbox_status(db: Session, now: datetime) -> OutboxCounts:
    """Counts by status, how many are due, and the oldest pending email's age."""
    return outbox.counts(db, now)


def purge_outbox(db: Session, *, now: datetime, older_than: timedelta = timedelta(days=30)) -> int:
    """Delete sent and failed emails older than `older_than`; returns how many."""
    return outbox.purge(db, before=now - older_than)
