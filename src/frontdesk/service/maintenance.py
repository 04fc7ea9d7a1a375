"""Housekeeping: deleting sessions, tokens and second-factor leftovers that died long ago, in short batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from frontdesk.db import transaction
from frontdesk.mail import purge_outbox
from frontdesk.models import SignupToken
from frontdesk.service.deletion import erase_due
from frontdesk.service.deps import Deps
from frontdesk.service.totp import PENDING_TTL
from frontdesk.store import challenges as challenge_store
from frontdesk.store import identities as identity_store
from frontdesk.store import notices as notice_store
from frontdesk.store import ratelimits as ratelimit_store
from frontdesk.store import sessions as session_store
from frontdesk.store import tokens as token_store
from frontdesk.store import totp as totp_store
from frontdesk.store import webauthn as webauthn_store

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class CleanupReport:
    sessions: int
    tokens: int
    rate_limit_buckets: int
    emails: int = 0
    # sign-ins half-way: second steps, WebAuthn ceremonies and social sign-in flows used or
    # expired; abandoned app enrolments
    challenges: int = 0
    totp_enrolments: int = 0
    erased_accounts: int = 0
    # devices unused for FRONTDESK_NEW_DEVICE_WINDOW (each account keeps its most recent one)
    sign_in_devices: int = 0


def cleanup(
    factory: sessionmaker[Session],
    deps: Deps,
    older_than: timedelta,
    *,
    batch_size: int = 10_000,
    on_range: Callable[[int, int], None] | None = None,
    progress: Progress | None = None,
) -> CleanupReport:
    """Delete sessions and tokens dead for longer than `older_than`, sign-in devices unused for
    FRONTDESK_NEW_DEVICE_WINDOW (but each account's latest), and erase the deleted accounts whose
    grace period (FRONTDESK_ACCOUNT_DELETION_GRACE) is over.

    Sessions are walked by primary-key ranges of `batch_size` ids, each range in its own short
    transaction: every batch is an index range scan, total work is linear in the table, and
    only the deleted rows are locked, so validation of live sessions never waits.
    """
    erased = erase_due(factory, deps, batch_size=min(batch_size, 1000))
    cutoff = deps.clock.now() - older_than
    idle = deps.settings.session_idle_ttl
    with transaction(factory) as db:
        low, high = session_store.id_bounds(db)
    if on_range:
        on_range(low, high)
    sessions = 0
    for first in range(low, high + 1, batch_size):
        last = min(first + batch_size - 1, high)
        with transaction(factory) as db:
            sessions += session_store.delete_dead_in_range(db, first, last, cutoff, idle)
        if progress:
            progress(last - first + 1)
    tokens = 0
    models: tuple[token_store.TokenModel, ...] = (*token_store.USER_TOKEN_MODELS, SignupToken)
    for model in models:
        deleted = batch_size
        while deleted == batch_size:
            with transaction(factory) as db:
                deleted = token_store.delete_dead(db, model, cutoff, batch_size)
            tokens += deleted
    # WebAuthn ceremonies first: some point at the second-factor challenge they answer
    challenges = _in_batches(
        factory, lambda db: webauthn_store.delete_dead_challenges(db, cutoff, batch_size), batch_size
    )
    challenges += _in_batches(factory, lambda db: challenge_store.delete_dead(db, cutoff, batch_size), batch_size)
    challenges += _in_batches(
        factory, lambda db: identity_store.delete_flows_before(db, cutoff, batch_size), batch_size
    )
    # a pending authenticator app dies PENDING_TTL after it was begun (confirm refuses it then)
    enrolments = _in_batches(
        factory, lambda db: totp_store.delete_pending_before(db, cutoff - PENDING_TTL, batch_size), batch_size
    )
    window = deps.settings.new_device_window
    devices = _in_batches(
        factory, lambda db: notice_store.delete_stale(db, deps.clock.now() - window, batch_size), batch_size
    )
    with transaction(factory) as db:
        buckets = ratelimit_store.delete_before(db, deps.clock.now() - deps.settings.rate_limit_window * 2)
        emails = purge_outbox(db, now=deps.clock.now(), older_than=older_than)
    return CleanupReport(sessions, tokens, buckets, emails, challenges, enrolments, erased, devices)


def _in_batches(factory: sessionmaker[Session], delete_batch: Callable[[Session], int], batch_size: int) -> int:
    """Run `delete_batch` (deleting at most `batch_size` rows), each in its own short transaction,
    until a batch comes back short; the total deleted."""
    total, deleted = 0, batch_size
    while deleted == batch_size:
        with transaction(factory) as db:
            deleted = delete_batch(db)
        total += deleted
    return total
