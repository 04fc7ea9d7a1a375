"""What a successful sign-in returns to the edge."""

from __future__ import annotations

from dataclasses import dataclass

from frontdesk.models import User
from frontdesk.service.sessions import IssuedSession


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The signed-in user and their new session (whose token the edge puts in a cookie), and the
    device cookie's new value (this device has now signed in to this account)."""

    user: User
    issued: IssuedSession
    device: str | None = None

    def __repr__(self) -> str:
        return f"AuthResult(user_id={self.user.id}, session_id={self.issued.session.id})"
