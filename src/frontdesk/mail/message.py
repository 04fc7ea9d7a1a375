"""Build the MIME message for an outbox row, and the note that replaces a sent email's bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from frontdesk.mail.transports import PermanentDeliveryError
from frontdesk.models import OutboxEmail
from frontdesk.settings import Settings


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed outbox row, copied out of the session so sending needs no open transaction."""

    id: int
    attempts: int
    kind: str
    to: str
    subject: str
    text: str
    html: str
    created: datetime

    @classmethod
    def of(cls, row: OutboxEmail) -> Outgoing:
        return cls(
            row.id, row.attempts, row.kind, row.to_address, row.subject, row.text_body, row.html_body, row.created
        )

    def __repr__(self) -> str:  # the bodies may hold a live token
        return f"Outgoing(id={self.id}, kind={self.kind!r}, attempts={self.attempts})"


def build_message(email: Outgoing, settings: Settings, now: datetime) -> EmailMessage:
    """multipart/alternative: plain text first, HTML second (clients show the last they can)."""
    sender_domain = _domain(settings.mail_from) or "localhost"
    message = EmailMessage()
    try:
        message["From"] = settings.mail_from
        message["To"] = _recipient(email.to)
        message["Subject"] = email.subject
    except (ValueError, IndexError, MessageError) as exc:
        raise PermanentDeliveryError(f"unusable header: {type(exc).__name__}") from None
    message["Date"] = format_datetime(now)
    # Stable per row, so a duplicate caused by a crash after sending is recognisable downstream.
    message["Message-ID"] = f"<frontdesk.{email.id}.{int(email.created.timestamp() * 1e6)}@{sender_domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    message["X-Frontdesk-Kind"] = email.kind
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def _recipient(to: str) -> str:
    """The bare address (a plain string, so non-ASCII addresses can travel with SMTPUTF8)."""
    addr = parseaddr(to)[1]
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain or any(ch.isspace() or ch in "<>,;" for ch in addr):
        raise PermanentDeliveryError("invalid recipient address")
    return addr


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


def delivered_note(when: datetime) -> tuple[str, str]:
    """(text, html) kept in the outbox after delivery, instead of a body holding a token."""
    stamp = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    text = f"Delivered at {stamp}. The contents were removed from the outbox so it keeps no usable link.\n"
    return text, f"<p>{text.strip()}</p>\n"


def failed_note() -> tuple[str, str]:
    """(text, html) kept after giving up: the token inside would never reach its owner anyway."""
    text = "Not delivered. The contents were removed from the outbox so it keeps no usable link.\n"
    return text, f"<p>{text.strip()}</p>\n"
