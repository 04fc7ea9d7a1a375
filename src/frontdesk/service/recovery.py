"""Recovery codes: 10 single-use codes of 125 random bits, shown once, stored as SHA-256."""

from __future__ import annotations

import logging
import secrets

from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.service import audit, factor_events
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.store import recovery_codes as store

log = logging.getLogger(__name__)

CODES = 10
# Crockford's base32: digits and capitals without I, L, O and U, so nothing reads as something else
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS, GROUP_LENGTH = 5, 5  # 25 characters x 5 bits = 125 bits (contract: at least 112)
_READS_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -\t")


def new_code() -> str:
    """One code, formatted for people: `K7Q2M-…` in five groups of five."""
    chars = [secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LENGTH)]
    return "-".join("".join(chars[i : i + GROUP_LENGTH]) for i in range(0, len(chars), GROUP_LENGTH))


def normalise(code: str) -> str | None:
    """A typed code in canonical form (case, spaces, dashes and look-alike letters forgiven), or None
    if it cannot be a code."""
    canonical = code.upper().translate(_SEPARATORS).translate(_READS_AS)
    if len(canonical) != GROUPS * GROUP_LENGTH or any(c not in ALPHABET for c in canonical):
        return None
    return canonical


def _hash(canonical: str) -> bytes:
    return crypto.digest(canonical)


def replace_recovery_codes(db: Session, deps: Deps, user_id: int, ctx: RequestContext) -> list[str]:
    """A new set of codes for the user, ending the old set; the codes exist only in the return value."""
    codes = [new_code() for _ in range(CODES)]
    hashes = [_hash(normalise(c) or "") for c in codes]
    store.replace_all(db, user_id, hashes, deps.clock.now())
    audit.record(db, deps, "recovery_codes.generated", ctx, user_id=user_id)
    return codes


def use_recovery_code(db: Session, deps: Deps, user_id: int, code: str, ctx: RequestContext) -> bool:
    """Use one of the user's codes once; true for exactly one of any number of concurrent uses."""
    canonical = normalise(code)
    if canonical is None:
        return False
    used = store.use(db, user_id, _hash(canonical), deps.clock.now())
    if used:
        left = store.count_left(db, user_id)
        factor_events.recovery_code_used(db, deps, user_id, left, ctx)
    return used


def recovery_codes_left(db: Session, deps: Deps, user_id: int) -> int:
    return store.count_left(db, user_id)


def remove_recovery_codes(db: Session, deps: Deps, user_id: int, ctx: RequestContext) -> None:
    if store.remove_all(db, user_id):
        audit.record(db, deps, "recovery_codes.removed", ctx, user_id=user_id)
