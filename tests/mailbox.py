"""Reading the outbox in tests: what would have been emailed."""

from __future__ import annotations

import re

from sqlalchemy import select

from frontdesk.models import OutboxEmail
from frontdesk.runtime import Frontdesk


def outbox(fd: Frontdesk, kind: str | None = None, to: str | None = None) -> list[OutboxEmail]:
    with fd.factory() as db:
        stmt = select(OutboxEmail).order_by(OutboxEmail.id)
        if kind:
            stmt = stmt.where(OutboxEmail.kind == kind)
        if to:
            stmt = stmt.where(OutboxEmail.to_address == to)
        return list(db.scalars(stmt))


def token_from(email: OutboxEmail) -> str:
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", email.text_body)
    assert match, "no token link in the email"
    return match.group(1)


def code_from(email: OutboxEmail) -> str:
    """The 6-digit sign-in code of a sign-in email (on a line of its own)."""
    match = re.search(r"^\s*([0-9]{6})\s*$", email.text_body, re.MULTILINE)
    assert match, "no sign-in code in the email"
    return match.group(1)
