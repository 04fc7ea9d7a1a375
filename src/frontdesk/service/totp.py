"""Authenticator apps (TOTP, RFC 6238): enrol, confirm, verify once, remove.

pyotp computes the codes (SHA-1, 6 digits, 30-second steps, one step of drift either way).
Replay protection is ours: a step is accepted by a conditional UPDATE of the factor's
`last_used_step`, so one code works once across every process sharing the database, and no
earlier step works after a later one.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import segno
from sqlalchemy.orm import Session

from frontdesk import crypto
from frontdesk.errors import InvalidCode, InvalidInput, NotFound
from frontdesk.models import TotpFactor
from frontdesk.service import audit, factor_events, factors
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.settings import Settings
from frontdesk.store import totp as store
from frontdesk.store import users as user_store

DRIFT_STEPS = 1
PENDING_TTL = timedelta(hours=1)  # an enrolment not confirmed within this is abandoned
_KEY_PURPOSE = "totp-secret"


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    """What the person needs to add the account to an app. Shown once; the secret is not kept in clear."""

    secret: str
    otpauth_uri: str
    qr_svg: str

    def __repr__(self) -> str:
        return "TotpEnrolment(secret=<hidden>)"


def _key(settings: Settings) -> bytes:
    # Without FRONTDESK_SECRET (development only; production requires one) the key is still
    # derived, from the empty string: encrypted at rest, but not against someone with the code.
    root = settings.secret.get_secret_value() if settings.secret is not None else ""
    return crypto.derive_key(root, _KEY_PURPOSE)


def _associated_data(user_id: int) -> bytes:
    return f"totp:{user_id}".encode()


def _secret_of(deps: Deps, factor: TotpFactor) -> str:
    return crypto.unseal(_key(deps.settings), factor.secret_box, _associated_data(factor.user_id)).decode("ascii")


def begin_totp_enrolment(db: Session, deps: Deps, user_id: int, ctx: RequestContext) -> TotpEnrolment:
    """A new pending secret for the user (replacing a pending one); active only once confirmed."""
    user = user_store.get(db, user_id)
    if user is None:
        raise NotFound("user")
    secret = pyotp.random_base32()  # 160 bits, as RFC 4226 recommends
    box = crypto.seal(_key(deps.settings), secret.encode("ascii"), _associated_data(user_id))
    store.replace_pending(db, TotpFactor(user_id=user_id, secret_box=box, confirmed=False, created=deps.clock.now()))
    audit.record(db, deps, "totp.enrolment_started", ctx, user_id=user_id)
    return _enrolment(deps, user.username, secret)


def pending_enrolment(db: Session, deps: Deps, user_id: int) -> TotpEnrolment | None:
    """The enrolment being set up (not yet confirmed), shown again (say, after a mistyped code), or None."""
    pending = store.get(db, user_id, confirmed=False)
    user = user_store.get(db, user_id)
    if pending is None or user is None:
        return None
    return _enrolment(deps, user.username, _secret_of(deps, pending))


def _enrolment(deps: Deps, username: str, secret: str) -> TotpEnrolment:
    product = deps.settings.product_name
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=product)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4, title=f"{product}: {username}")
    return TotpEnrolment(secret=secret, otpauth_uri=uri, qr_svg=qr_svg)


def confirm_totp(db: Session, deps: Deps, user_id: int, code: str, ctx: RequestContext) -> list[str] | None:
    """Activate the pending secret with a code from the app. Returns the recovery codes when this is
    the user's first second factor (shown once), else None. InvalidCode for a wrong code."""
    pending = store.get(db, user_id, confirmed=False)
    if pending is None or pending.created < deps.clock.now() - PENDING_TTL:
        raise InvalidInput("No authenticator app is being set up; start again.", field="totp")
    if not _claim(db, deps, pending, code):
        audit.record(db, deps, "totp.confirm_failed", ctx, user_id=user_id)
        raise InvalidCode()
    was_first = not factors.has_second_factor(db, deps, user_id)
    store.activate(db, pending.id, user_id, deps.clock.now())
    factor_events.enrolled(db, deps, user_id, "totp", ctx)
    return factors.after_enrolment(db, deps, user_id, was_first=was_first, ctx=ctx)


def verify_totp(db: Session, deps: Deps, user_id: int, code: str) -> bool:
    """True iff `code` is the user's current code (±1 step) and its step was never accepted before
    (nor any later step). Uses the step up: of concurrent calls with one code, one gets True."""
    active = store.get(db, user_id, confirmed=True)
    return active is not None and _claim(db, deps, active, code)


def remove_totp(db: Session, deps: Deps, user_id: int, ctx: RequestContext) -> None:
    """Remove the authenticator app (active and pending); the last factor gone takes the recovery codes."""
    if not store.remove(db, user_id):
        raise NotFound("authenticator app")
    factor_events.removed(db, deps, user_id, "totp", ctx)
    factors.after_removal(db, deps, user_id, ctx)


def _claim(db: Session, deps: Deps, factor: TotpFactor, code: str) -> bool:
    code = code.replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return False
    totp = pyotp.TOTP(_secret_of(deps, factor))
    now = deps.clock.now()
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return store.claim_step(db, factor.id, step, now)
    return False
