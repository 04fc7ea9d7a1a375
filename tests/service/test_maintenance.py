"""Cleanup deletes what died long ago, and the ids of deleted rows are never handed out again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from frontdesk.clock import FrozenClock
from frontdesk.models import LoginToken, OAuthFlow, OutboxEmail, UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import NO_CONTEXT
from frontdesk.service.login import request_login_link
from frontdesk.service.maintenance import cleanup
from frontdesk.service.sessions import end_session_by_id
from tests.factories import make_session, make_user


def newest(fd: Frontdesk, model: type[UserSession | LoginToken | OutboxEmail]) -> int:
    return fd.read(lambda db, _: int(db.scalar(select(func.max(model.id))) or 0))


def test_ids_of_cleaned_up_rows_are_never_reused(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd, username="reused")
    ended = [make_session(fd, user, is_api_key=api_key) for api_key in (False, True, True)]
    for issued in ended:
        fd.call(end_session_by_id, issued.session.id, NO_CONTEXT, actor_id=None)
    fd.call(request_login_link, "reused", NO_CONTEXT)
    fd.call(lambda db, _: db.execute(update(OutboxEmail).values(status="sent", sent_at=clock.now())))
    before = {model: newest(fd, model) for model in (UserSession, LoginToken, OutboxEmail)}
    assert all(before.values())

    clock.advance(timedelta(days=31))
    report = cleanup(fd.factory, fd.deps, timedelta(days=30))
    assert report.sessions >= 3 and report.tokens == 1 and report.emails >= 1
    assert {model: newest(fd, model) for model in before} == dict.fromkeys(before, 0)  # every row is gone

    fresh = make_session(fd, user, is_api_key=True)
    fd.call(request_login_link, "reused", NO_CONTEXT)
    assert fresh.session.id > before[UserSession]
    assert newest(fd, LoginToken) > before[LoginToken]
    assert newest(fd, OutboxEmail) > before[OutboxEmail]


def test_social_sign_in_flows_used_or_expired_long_ago_are_deleted(fd: Frontdesk, clock: FrozenClock) -> None:
    def flow(state: bytes, used: bool) -> OAuthFlow:
        now = clock.now()
        return OAuthFlow(
            state_hash=state * 32,
            binding_hash=b"b" * 32,
            nonce_hash=b"n" * 32,
            verifier_box=b"v" * 64,
            provider="corp",
            purpose="sign_in",
            next_path="/account",
            remember_device=False,
            created=now,
            expiry=now + timedelta(minutes=10),
            used_at=now if used else None,
        )

    fd.call(lambda db, _: db.add_all([flow(b"u", used=True), flow(b"e", used=False)]))
    clock.advance(timedelta(days=31))
    fd.call(lambda db, _: db.add(flow(b"o", used=False)))  # one in progress now
    report = cleanup(fd.factory, fd.deps, timedelta(days=30))
    assert report.challenges == 2
    assert fd.read(lambda db, _: [f.state_hash[:1] for f in db.scalars(select(OAuthFlow))]) == [b"o"]
