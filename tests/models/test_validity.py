"""`is_valid_at` means the same in SQL and in Python, on both databases (the seed's TODO)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.models import LoginToken, PasswordResetToken, User, UserSession

BASE = datetime(2026, 1, 1, tzinfo=UTC)
IDLE = timedelta(hours=168)
# offsets around the interesting edges (0, ±1 µs, ±168 h, ±730 days) plus anything in between
edges = st.sampled_from([0, 1, -1, 168 * 3600 * 10**6, 168 * 3600 * 10**6 + 1, 168 * 3600 * 10**6 - 1])
offsets = st.one_of(edges, edges.map(lambda v: -v), st.integers(-(800 * 86400 * 10**6), 800 * 86400 * 10**6))
moments = offsets.map(lambda us: BASE + timedelta(microseconds=us))

SLOW_DB = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _user(db: Session) -> User:
    user = User(
        username="u",
        username_key="u",
        email="u@example.com",
        email_key="u@example.com",
        name="U",
        hashed_password="x",
        created=BASE,
        last_active=BASE,
    )
    db.add(user)
    db.flush()
    return user


@SLOW_DB
@given(
    created=moments,
    expiry=moments,
    deleted=st.none() | moments,
    last_seen=moments,
    long_lived=st.booleans(),
    now=moments,
)
def test_session_validity_agrees(
    engine: Engine,
    created: datetime,
    expiry: datetime,
    deleted: datetime | None,
    last_seen: datetime,
    long_lived: bool,
    now: datetime,
) -> None:
    with sessionmaker(engine)() as db:
        user = _user(db)
        s = UserSession(
            token_hash=b"h" * 32,
            user_id=user.id,
            long_lived=long_lived,
            created=created,
            expiry=expiry,
            deleted=deleted,
            last_seen=last_seen,
        )
        db.add(s)
        db.flush()
        in_sql = db.scalar(select(UserSession.is_valid_at(now, IDLE)).where(UserSession.id == s.id))
        db.expire(s)  # read every column back from the database, round-tripped through its types
        assert bool(in_sql) is s.is_valid_at(now, IDLE)
        expected = created <= now <= expiry and deleted is None and (long_lived or now - last_seen < IDLE)
        assert s.is_valid_at(now, IDLE) is expected
        db.rollback()


@SLOW_DB
@given(
    created=moments,
    expiry=moments,
    used=st.none() | moments,
    now=moments,
    kind=st.sampled_from([LoginToken, PasswordResetToken]),
)
def test_token_validity_agrees(
    engine: Engine,
    created: datetime,
    expiry: datetime,
    used: datetime | None,
    now: datetime,
    kind: type[LoginToken] | type[PasswordResetToken],
) -> None:
    with sessionmaker(engine)() as db:
        user = _user(db)
        token = kind(token_hash=b"t" * 32, user_id=user.id, created=created, expiry=expiry, used_at=used)
        db.add(token)
        db.flush()
        in_sql = db.scalar(select(kind.is_valid_at(now)).where(kind.id == token.id))
        db.expire(token)
        assert bool(in_sql) is token.is_valid_at(now)
        assert token.is_valid_at(now) is (created <= now <= expiry and used is None)
        db.rollback()


def test_timestamps_come_back_timezone_aware_utc(engine: Engine) -> None:
    with sessionmaker(engine)() as db:
        user = _user(db)
        db.commit()
        db.expire_all()
        assert user.created == BASE and user.created.tzinfo is not None
        assert user.created.utcoffset() == timedelta(0)


def _session(**fields: object) -> UserSession:
    base: dict[str, object] = {
        "token_hash": b"h" * 32,
        "user_id": 1,
        "long_lived": False,
        "created": BASE,
        "expiry": BASE + timedelta(days=730),
        "last_seen": BASE,
    }
    return UserSession(**{**base, **fields})  # type: ignore[arg-type]


US = timedelta(microseconds=1)


EDGES = pytest.mark.parametrize(
    ("fields", "now", "valid"),
    [
        ({}, BASE, True),
        ({}, BASE - US, False),  # before it was created
        ({}, BASE + IDLE - US, True),
        ({}, BASE + IDLE, False),  # idle for exactly the idle limit: dead
        ({"long_lived": True}, BASE + IDLE * 10, True),
        ({"long_lived": True, "expiry": BASE + IDLE}, BASE + IDLE, True),  # valid up to its expiry, inclusive
        ({"long_lived": True, "expiry": BASE + IDLE}, BASE + IDLE + US, False),
        ({"deleted": BASE}, BASE, False),
        ({}, BASE + IDLE + US, False),
        ({}, BASE + IDLE * 2, False),
        ({"last_seen": BASE + IDLE}, BASE + IDLE + IDLE - US, True),  # use moves the idle limit
    ],
)


@EDGES
def test_the_rule_in_python_at_its_edges(fields: dict[str, object], now: datetime, valid: bool) -> None:
    assert _session(**fields).is_valid_at(now, IDLE) is valid


def test_a_new_session_is_a_cookie_session_at_aal_1_with_nothing_recorded() -> None:
    s = _session()
    assert (s.is_api_key, s.aal, s.factors, s.factor_list, s.api_calls, s.deleted) == (False, 1, "", [], 0, None)
    assert (s.name, s.ip_address, s.user_agent, s.authenticated_at) == (None, None, None, None)
    assert "token_hash" not in repr(s) and repr(b"h" * 32) not in repr(s)
    assert s.authenticated == BASE  # no factor time recorded: read as its creation
    later = _session(authenticated_at=BASE + IDLE, factors="password,totp")
    assert (later.authenticated, later.factor_list) == (BASE + IDLE, ["password", "totp"])


@EDGES
def test_the_rule_in_sql_at_its_edges(engine: Engine, fields: dict[str, object], now: datetime, valid: bool) -> None:
    with sessionmaker(engine)() as db:
        user = _user(db)
        s = _session(**{"user_id": user.id, **fields})
        db.add(s)
        db.flush()
        assert bool(db.scalar(select(UserSession.is_valid_at(now, IDLE)).where(UserSession.id == s.id))) is valid
        db.rollback()
