"""The seed's session rules, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from frontdesk import crypto
from frontdesk.clock import FrozenClock
from frontdesk.errors import CannotDeleteCurrentSession, Forbidden, InvalidCredentials, InvalidInput, NotFound
from frontdesk.models import User, UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import set_banned
from frontdesk.service.context import NO_CONTEXT, Principal, RequestContext
from frontdesk.service.sessions import (
    authenticate,
    create_api_key,
    list_sessions,
    revoke_other_sessions,
    revoke_session,
)
from frontdesk.store import sessions as session_store
from tests.factories import PASSWORD, make_session, make_user
from tests.mailbox import outbox


def auth(fd: Frontdesk, token: str, *, api: bool = False) -> Principal | None:
    return fd.read(authenticate, token, is_api_key=api)


def test_token_is_stored_only_as_its_sha256(fd: Frontdesk) -> None:
    issued = make_session(fd, make_user(fd))
    with fd.factory() as db:
        row = db.get(UserSession, issued.session.id)
    assert row is not None
    assert row.token_hash == crypto.digest(issued.token)
    assert len(row.token_hash) == 32
    assert issued.token not in repr(row) and issued.token not in repr(issued)


def test_cookie_token_matches_only_cookie_sessions(fd: Frontdesk) -> None:
    user = make_user(fd)
    cookie = make_session(fd, user)
    key = make_session(fd, user, is_api_key=True, long_lived=True)
    assert auth(fd, cookie.token) is not None
    assert auth(fd, cookie.token, api=True) is None
    assert auth(fd, key.token, api=True) is not None
    assert auth(fd, key.token) is None
    assert key.token.startswith("fdk_") and not cookie.token.startswith("fdk_")


def test_short_lived_session_dies_after_168_idle_hours(fd: Frontdesk, clock: FrozenClock) -> None:
    issued = make_session(fd, make_user(fd), long_lived=False)
    clock.advance(timedelta(hours=167, minutes=59))
    assert auth(fd, issued.token) is not None  # this use moves last_seen
    fd.flush_touches()
    clock.advance(timedelta(hours=167, minutes=59))
    assert auth(fd, issued.token) is not None
    fd.flush_touches()
    clock.advance(timedelta(hours=168))
    assert auth(fd, issued.token) is None


def test_long_lived_session_survives_idleness_until_730_days(fd: Frontdesk, clock: FrozenClock) -> None:
    issued = make_session(fd, make_user(fd), long_lived=True)
    assert issued.session.expiry - issued.session.created == timedelta(days=730)
    clock.advance(timedelta(days=729, hours=23))
    assert auth(fd, issued.token) is not None
    clock.advance(timedelta(hours=2))
    assert auth(fd, issued.token) is None


def test_session_not_valid_before_created(fd: Frontdesk, clock: FrozenClock) -> None:
    issued = make_session(fd, make_user(fd))
    clock.advance(timedelta(seconds=-1))
    assert auth(fd, issued.token) is None


def test_every_use_counts_and_sets_last_seen(fd: Frontdesk, clock: FrozenClock) -> None:
    issued = make_session(fd, make_user(fd))
    for _ in range(5):
        clock.advance(timedelta(seconds=1))
        assert auth(fd, issued.token) is not None
    assert fd.flush_touches() == 1
    with fd.factory() as db:
        row = db.get(UserSession, issued.session.id)
    assert row is not None
    assert row.api_calls == 5
    assert row.last_seen == clock.now()


def test_a_ban_ends_every_session_and_api_key_for_good(fd: Frontdesk) -> None:
    user = make_user(fd)
    issued = make_session(fd, user)
    key = make_session(fd, user, is_api_key=True, long_lived=True)
    fd.call(set_banned, user.id, True, NO_CONTEXT, actor_id=None)
    assert auth(fd, issued.token) is None
    assert auth(fd, key.token, api=True) is None
    fd.call(set_banned, user.id, False, NO_CONTEXT, actor_id=None)
    assert auth(fd, issued.token) is None  # an unban brings none back
    assert auth(fd, key.token, api=True) is None


def test_revoke_one_leaves_the_others(fd: Frontdesk) -> None:
    user = make_user(fd)
    current, other, third = (make_session(fd, user) for _ in range(3))
    me = auth(fd, current.token)
    assert me is not None
    fd.call(revoke_session, me, other.session.id, NO_CONTEXT)
    assert auth(fd, other.token) is None
    assert auth(fd, third.token) is not None
    with pytest.raises(NotFound):
        fd.call(revoke_session, me, other.session.id, NO_CONTEXT)
    with pytest.raises(CannotDeleteCurrentSession):
        fd.call(revoke_session, me, current.session.id, NO_CONTEXT)


def test_cannot_revoke_someone_elses_session(fd: Frontdesk) -> None:
    mine = make_session(fd, make_user(fd))
    theirs = make_session(fd, make_user(fd))
    me = auth(fd, mine.token)
    assert me is not None
    with pytest.raises(NotFound):
        fd.call(revoke_session, me, theirs.session.id, NO_CONTEXT)
    assert auth(fd, theirs.token) is not None


def test_revoke_others_keeps_current_session_and_api_keys(fd: Frontdesk) -> None:
    user = make_user(fd)
    current = make_session(fd, user)
    others = [make_session(fd, user) for _ in range(3)]
    key = make_session(fd, user, is_api_key=True, long_lived=True)
    me = auth(fd, current.token)
    assert me is not None
    assert fd.call(revoke_other_sessions, me, NO_CONTEXT) == 3
    assert all(auth(fd, s.token) is None for s in others)
    assert auth(fd, current.token) is not None
    assert auth(fd, key.token, api=True) is not None


def test_list_sessions_pages_most_recent_first(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    issued = []
    for _ in range(5):
        clock.advance(timedelta(minutes=1))
        issued.append(make_session(fd, user))
    me = auth(fd, issued[0].token)
    assert me is not None
    fd.flush_touches()
    first = fd.read(list_sessions, me.user_id, 3, None, current_session_id=me.session_id)
    assert len(first.sessions) == 3 and first.next_page_token
    second = fd.read(list_sessions, me.user_id, 3, first.next_page_token, current_session_id=me.session_id)
    assert len(second.sessions) == 2 and second.next_page_token is None
    seen = [s.last_seen for s in first.sessions + second.sessions]
    assert seen == sorted(seen, reverse=True)
    ids = {s.id for s in first.sessions + second.sessions}
    assert ids == {s.session.id for s in issued}
    assert [s.is_current for s in first.sessions].count(True) == 1  # the first one was used last


@pytest.mark.parametrize("token", ["x", "not base64!", "W10", "WyJub3QgYSBkYXRlIiwgMV0", "A" * 500])
def test_bad_page_token_is_invalid_input(fd: Frontdesk, token: str) -> None:
    me = auth(fd, make_session(fd, make_user(fd)).token)
    assert me is not None
    with pytest.raises(InvalidInput):
        fd.read(list_sessions, me.user_id, 3, token)


@pytest.mark.parametrize("size", [0, -1, 101])
def test_bad_page_size_is_invalid_input(fd: Frontdesk, size: int) -> None:
    me = auth(fd, make_session(fd, make_user(fd)).token)
    assert me is not None
    with pytest.raises(InvalidInput):
        fd.read(list_sessions, me.user_id, size, None)


def test_sessions_list_describes_devices(fd: Frontdesk) -> None:
    user = make_user(fd)
    agents = {
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Mobile/15E148 Safari/604.1": ("Mobile Safari", "iOS", "iPhone"),
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36": (
            "Samsung Internet",
            "Android",
            "Samsung SM-S918B",
        ),
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0": (
            "Firefox",
            "Ubuntu",
            "Other",
        ),
    }
    sessions = [make_session(fd, user, ctx=RequestContext("81.2.69.142", ua)) for ua in agents]
    me = auth(fd, sessions[0].token)
    assert me is not None
    page = fd.read(list_sessions, me.user_id, 10, None)
    found = {s.user_agent: (s.browser, s.operating_system, s.device) for s in page.sessions}
    assert found == agents
    assert {s.approximate_location for s in page.sessions} == {"United Kingdom"}


def test_api_key_needs_password_and_a_cookie_session(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    me = auth(fd, make_session(fd, user).token)
    assert me is not None
    with pytest.raises(InvalidCredentials):
        fd.call(create_api_key, me, "wrong password", "ci", 30, NO_CONTEXT)
    issued = fd.call(create_api_key, me, PASSWORD, "ci", 30, NO_CONTEXT)
    assert issued.session.expiry == clock.now() + timedelta(days=30)
    key_principal = auth(fd, issued.token, api=True)
    assert key_principal is not None and key_principal.is_api_key
    with pytest.raises(Forbidden):
        fd.call(create_api_key, key_principal, PASSWORD, "again", 30, NO_CONTEXT)
    with pytest.raises(InvalidInput):
        fd.call(create_api_key, me, PASSWORD, "ci", 731, NO_CONTEXT)
    with fd.factory() as db:
        names = db.scalars(select(UserSession.name).where(UserSession.is_api_key.is_(True))).all()
    assert names == ["ci"]


def test_creating_an_api_key_emails_the_owner_without_the_key(fd: Frontdesk) -> None:
    user = make_user(fd)
    me = auth(fd, make_session(fd, user).token)
    assert me is not None
    ctx = RequestContext(
        ip_address="192.0.2.44", user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    )
    issued = fd.call(create_api_key, me, PASSWORD, "deploy bot", 30, ctx)
    [notice] = outbox(fd, "api_key_notice", to=user.email)
    for body in (notice.text_body, notice.html_body):
        assert "deploy bot" in body and issued.session.expiry.strftime("%Y-%m-%d") in body
        assert "Firefox" in body and "192.0.2.44" in body
        assert issued.token not in body


def test_no_api_key_for_a_banned_user(fd: Frontdesk) -> None:
    from frontdesk.service.admin import issue_api_key

    user = make_user(fd)
    fd.call(set_banned, user.id, True, NO_CONTEXT, actor_id=None)
    with pytest.raises(Forbidden):
        fd.call(issue_api_key, user.id, 30, NO_CONTEXT, actor_id=None)
    fd.call(set_banned, user.id, False, NO_CONTEXT, actor_id=None)
    assert fd.call(issue_api_key, user.id, 30, NO_CONTEXT, actor_id=None).token.startswith("fdk_")


def test_each_session_answers_for_its_own_user_only(fd: Frontdesk) -> None:
    """Users on either side (lower and higher ids) of one who may not sign in change nothing."""
    first, middle, last = make_user(fd), make_user(fd), make_user(fd)
    tokens = {u.id: make_session(fd, u).token for u in (first, middle, last)}
    with fd.factory() as db:  # suspended in the database, sessions left as they are
        row = db.get(User, middle.id)
        assert row is not None
        row.is_banned = True
        db.commit()
    assert auth(fd, tokens[middle.id]) is None
    for user in (first, last):
        found = auth(fd, tokens[user.id])
        assert found is not None and (found.user_id, found.username) == (user.id, user.username)


def test_revoking_and_listing_touch_only_the_callers_sessions(fd: Frontdesk) -> None:
    before, me_user, after = make_user(fd), make_user(fd), make_user(fd)
    theirs = [make_session(fd, before), make_session(fd, after)]
    current, other = make_session(fd, me_user), make_session(fd, me_user)
    me = auth(fd, current.token)
    assert me is not None
    listed = fd.read(list_sessions, me.user_id, 10, None, current_session_id=me.session_id)
    assert {s.id for s in listed.sessions} == {current.session.id, other.session.id}
    assert fd.call(revoke_other_sessions, me, NO_CONTEXT) == 1
    assert all(auth(fd, s.token) is not None for s in theirs)


def test_touches_only_move_last_seen_forward(fd: Frontdesk, clock: FrozenClock) -> None:
    issued = make_session(fd, make_user(fd))
    later = clock.now() + timedelta(hours=2)
    with fd.factory() as db:
        session_store.apply_touches(db, [session_store.Touch(issued.session.id, later, 1)])
        session_store.apply_touches(db, [session_store.Touch(issued.session.id, later - timedelta(hours=1), 2)])
        db.commit()
        row = db.get(UserSession, issued.session.id)
        assert row is not None and (row.last_seen, row.api_calls) == (later, 3)


def test_cleanup_deletes_exactly_the_sessions_dead_before_the_cutoff(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    now = clock.now()
    idle = fd.settings.session_idle_ttl
    cutoff = now - timedelta(days=1)
    cases: dict[str, dict[str, object]] = {
        "ended long ago": {"deleted": cutoff - timedelta(seconds=1)},
        "ended recently": {"deleted": cutoff + timedelta(seconds=1)},
        "expired long ago": {"expiry": cutoff - timedelta(seconds=1)},
        "idle long ago": {"last_seen": cutoff - idle - timedelta(seconds=1)},
        "idle, remembered": {"last_seen": cutoff - idle - timedelta(seconds=1), "long_lived": True},
        "idle recently": {"last_seen": cutoff - idle + timedelta(seconds=1)},
        "live": {},
    }
    ids = {}
    with fd.factory() as db:
        for name, fields in cases.items():
            values: dict[str, Any] = {
                "token_hash": crypto.digest(name),
                "user_id": user.id,
                "long_lived": False,
                "created": now - timedelta(days=30),
                "expiry": now + timedelta(days=30),
                "last_seen": now,
                **fields,
            }
            row = UserSession(**values)
            db.add(row)
            db.flush()
            ids[name] = row.id
        low, high = session_store.id_bounds(db)
        assert session_store.delete_dead_in_range(db, low, high, cutoff, idle) == 3
        db.commit()
        left = set(db.scalars(select(UserSession.id).where(UserSession.user_id == user.id)))
    assert left == {ids[n] for n in ("ended recently", "idle, remembered", "idle recently", "live")}


def test_no_one_revokes_a_session_of_an_earlier_user(fd: Frontdesk) -> None:
    earlier = make_session(fd, make_user(fd))
    mine = make_session(fd, make_user(fd))
    me = auth(fd, mine.token)
    assert me is not None
    with pytest.raises(NotFound):
        fd.call(revoke_session, me, earlier.session.id, NO_CONTEXT)
    assert auth(fd, earlier.token) is not None


def test_revoking_the_others_from_the_newest_session_ends_the_older_ones(fd: Frontdesk) -> None:
    user = make_user(fd)
    older = [make_session(fd, user) for _ in range(2)]
    current = make_session(fd, user)
    me = auth(fd, current.token)
    assert me is not None
    assert fd.call(revoke_other_sessions, me, NO_CONTEXT) == 2
    assert all(auth(fd, s.token) is None for s in older)
    assert auth(fd, current.token) is not None


def test_a_touch_moves_only_its_own_session(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    first, second = make_session(fd, user), make_session(fd, user)
    with fd.factory() as db:
        session_store.apply_touches(db, [session_store.Touch(second.session.id, clock.now() + timedelta(hours=1), 1)])
        db.commit()
        row = db.get(UserSession, first.session.id)
        assert row is not None and (row.last_seen, row.api_calls) == (clock.now(), 0)


def test_cleanup_keeps_to_its_id_range(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    ended = [make_session(fd, user) for _ in range(3)]
    with fd.factory() as db:
        for issued in ended:
            session_store.end(db, issued.session.id, clock.now() - timedelta(days=2))
        db.commit()
        middle = ended[1].session.id
        deleted = session_store.delete_dead_in_range(
            db, middle, middle, clock.now() - timedelta(days=1), fd.settings.session_idle_ttl
        )
        db.commit()
        left = set(db.scalars(select(UserSession.id).where(UserSession.user_id == user.id)))
    assert deleted == 1 and left == {ended[0].session.id, ended[2].session.id}


def test_ending_or_reauthenticating_one_session_leaves_the_others(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    before, target, after = (make_session(fd, user) for _ in range(3))
    with fd.factory() as db:
        session_store.reauthenticated(db, target.session.id, clock.now(), factors="password,totp", aal=2)
        assert session_store.end(db, target.session.id, clock.now()) == 1
        db.commit()
        rows = {s.id: s for s in db.scalars(select(UserSession).where(UserSession.user_id == user.id))}
    assert (rows[target.session.id].aal, rows[target.session.id].deleted) == (2, clock.now())
    for other in (before, after):
        assert (rows[other.session.id].aal, rows[other.session.id].factors) == (1, "")
        assert rows[other.session.id].deleted is None


def test_revoking_the_others_ends_one_expiring_now_and_counts_no_expired_one(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    current = make_session(fd, user)
    me = auth(fd, current.token)
    assert me is not None
    with fd.factory() as db:
        for name, expiry in (("now", clock.now()), ("gone", clock.now() - timedelta(seconds=1))):
            values: dict[str, Any] = {
                "token_hash": crypto.digest(name),
                "user_id": user.id,
                "long_lived": True,
                "created": clock.now() - timedelta(days=1),
                "expiry": expiry,
                "last_seen": clock.now(),
            }
            db.add(UserSession(**values))
        db.commit()
    assert fd.call(revoke_other_sessions, me, NO_CONTEXT) == 1
    with fd.factory() as db:
        ended = {row.token_hash: row.deleted for row in db.scalars(select(UserSession))}
    assert ended[crypto.digest("now")] == clock.now() and ended[crypto.digest("gone")] is None


def test_cleanup_keeps_what_died_exactly_at_the_cutoff(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    cutoff = clock.now() - timedelta(days=1)
    idle = fd.settings.session_idle_ttl
    with fd.factory() as db:
        for name, fields in (
            ("ended", {"deleted": cutoff}),
            ("expired", {"expiry": cutoff}),
            ("idle", {"last_seen": cutoff - idle}),
        ):
            values: dict[str, Any] = {
                "token_hash": crypto.digest(name),
                "user_id": user.id,
                "long_lived": False,
                "created": clock.now() - timedelta(days=30),
                "expiry": clock.now() + timedelta(days=30),
                "last_seen": clock.now(),
                **fields,
            }
            db.add(UserSession(**values))
        db.flush()
        low, high = session_store.id_bounds(db)
        assert session_store.delete_dead_in_range(db, low, high, cutoff, idle) == 0


def test_a_principal_carries_the_factors_its_session_was_signed_in_with(fd: Frontdesk, clock: FrozenClock) -> None:
    """`/v1/verify` and step-up read the factors off the principal: none recorded reads as none,
    and a stepped-up session answers with each of its factors at its aal."""
    user = make_user(fd)
    plain, stepped = make_session(fd, user), make_session(fd, user)
    with fd.factory() as db:
        session_store.reauthenticated(db, stepped.session.id, clock.now(), factors="password,totp", aal=2)
        db.commit()
    read_plain, read_stepped = auth(fd, plain.token), auth(fd, stepped.token)
    assert read_plain is not None and (read_plain.factors, read_plain.aal) == ((), 1)
    assert read_stepped is not None and (read_stepped.factors, read_stepped.aal) == (("password", "totp"), 2)


def test_a_batch_of_touches_is_written_in_one_statement(fd: Frontdesk, clock: FrozenClock) -> None:
    """The touch flusher shares the verify process: on PostgreSQL a batch is one `UPDATE ... FROM
    unnest(...)` whatever its size, its arrays sent in binary, without waiting for the WAL flush;
    on SQLite one executemany."""
    user = make_user(fd)
    issued = [make_session(fd, user) for _ in range(3)]
    later = clock.now() + timedelta(minutes=5)
    statements: list[tuple[str, bool]] = []

    def record(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        statements.append((statement, executemany))

    with fd.factory() as db:
        engine = db.get_bind()
        event.listen(engine, "before_cursor_execute", record)
        try:
            session_store.apply_touches(db, [session_store.Touch(s.session.id, later, 2) for s in issued])
            db.commit()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        rows = db.scalars(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert {(row.last_seen, row.api_calls) for row in rows} == {(later, 2)}
    updates = [(sql, many) for sql, many in statements if sql.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    if fd.engine.dialect.name == "postgresql":
        assert "unnest" in updates[0][0] and "%(ids)b" in updates[0][0] and not updates[0][1]  # binary arrays
        assert any("synchronous_commit = off" in sql for sql, _ in statements)
    else:
        assert updates[0][1]  # one executemany
