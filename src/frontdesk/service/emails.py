"""Sending an email on behalf of a use case: links, and the per-address / per-IP sending limits."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from frontdesk.errors import RateLimited
from frontdesk.mail import KINDS, enqueue_email
from frontdesk.service import ratelimit
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps

log = logging.getLogger(__name__)


def link(deps: Deps, kind: str, token: str) -> str:
    """The emailed link of `kind` (its page, from the table of email kinds) carrying `token`."""
    path = KINDS[kind].link_path
    if path is None:
        raise ValueError(f"email kind {kind!r} has no link")
    return f"{deps.settings.public_url}{path}?{urlencode({'token': token})}"


def may_send(db: Session, deps: Deps, address_key: str, ctx: RequestContext) -> bool:
    """Count one email to this address and from this IP; False once either is over its limit.

    Over the limit the API still answers 202 and simply sends nothing, so limits reveal nothing.
    """
    settings = deps.settings
    per_address = ratelimit.allow(
        db, deps, ratelimit.subject_key("email:addr", address_key), settings.emails_per_address
    )
    per_ip = True
    if ctx.ip_address:
        per_ip = ratelimit.allow(db, deps, ratelimit.subject_key("email:ip", ctx.ip_address), settings.emails_per_ip)
    if not (per_address and per_ip):
        log.info("email.rate_limited", extra={"per_address": per_address, "per_ip": per_ip})
        return False
    return True


def within_limits(db: Session, deps: Deps, address_key: str, ctx: RequestContext) -> bool:
    """Whether an email to this address and from this IP would still be within the sending limits,
    without counting one (to skip slow work, such as hashing a code, for an email that won't go)."""
    settings = deps.settings
    checks = [(ratelimit.subject_key("email:addr", address_key), settings.emails_per_address)]
    if ctx.ip_address:
        checks.append((ratelimit.subject_key("email:ip", ctx.ip_address), settings.emails_per_ip))
    try:
        for key, limit in checks:
            ratelimit.ensure_below(db, deps, key, limit)
    except RateLimited:
        return False
    return True


def send(db: Session, deps: Deps, *, kind: str, to: str, context: dict[str, str]) -> None:
    enqueue_email(db, deps.settings, deps.clock.now(), kind=kind, to=to, context=context)
