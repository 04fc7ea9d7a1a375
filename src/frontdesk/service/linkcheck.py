"""Is an emailed link still good? Checked when its page opens, without using it, so a used or
expired link says so at once instead of after the person has typed a new password."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.crypto import MAX_TOKEN_LENGTH
from frontdesk.models import LoginToken, PasswordResetToken, SignupToken
from frontdesk.service.deps import Deps
from frontdesk.store import tokens as token_store

LinkKind = Literal["login_link", "password_reset", "signup"]
_MODELS: dict[LinkKind, type[LoginToken] | type[PasswordResetToken] | type[SignupToken]] = {
    "login_link": LoginToken,
    "password_reset": PasswordResetToken,
    "signup": SignupToken,
}


def link_is_live(db: Session, deps: Deps, kind: LinkKind, token: str) -> bool:
    """Whether `token` would still work for `kind` now (known, not used, not expired). Reads only:
    opening a link, as mail scanners do, never uses it."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    return token_store.peek(db, _MODELS[kind], crypto.digest(token), deps.clock.now()) is not None
