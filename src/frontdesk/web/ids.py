"""Ids from URL paths: one parser with the range check, for the API and the pages alike.

Ids are positive 64-bit integers (BIGINT). Anything outside that range names no row, so it is
answered as the row not being found (404 `not_found`), before any database is asked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from frontdesk.errors import NotFound

MAX_ID = 2**63 - 1


def checked_id(value: int, what: str) -> int:
    """`value` if some row could have it as its id, else NotFound(`what`)."""
    if not 0 < value <= MAX_ID:
        raise NotFound(what)
    return value


def _session_id(session_id: Annotated[int, Path(description="A session's or API key's public id.")]) -> int:
    return checked_id(session_id, "session")


def _user_id(user_id: Annotated[int, Path(description="A user's id.")]) -> int:
    return checked_id(user_id, "user")


def _credential_id(credential_id: Annotated[int, Path(description="A security key's or passkey's id.")]) -> int:
    return checked_id(credential_id, "security key")


SessionId = Annotated[int, Depends(_session_id)]
CredentialId = Annotated[int, Depends(_credential_id)]
UserId = Annotated[int, Depends(_user_id)]
