"""Queries on `sessions`. Every "is it valid" comes from the model (`UserSession.is_valid_at`, or
`UserSession.valid_where` with bind parameters for the prepared principal query); cleanup's
"dead before the cutoff" (`delete_dead_in_range`) is the other side of that rule, written here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    FromClause,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from frontdesk.models import User, UserSession
from frontdesk.store.rows import changed


@dataclass(frozen=True, slots=True)
class Touch:
    """Pending use of a session: the newest time it was seen and how many calls since the last write."""

    session_id: int
    last_seen: datetime
    calls: int


def add(db: Session, session: UserSession) -> UserSession:
    db.add(session)
    db.flush()
    return session


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a valid session of a user who may sign in (a row of the principal query)."""

    session_id: int
    user_id: int
    username: str
    expiry: datetime
    long_lived: bool
    is_api_key: bool
    is_superuser: bool
    # how strongly and how recently the caller signed in (contract section 6)
    aal: int
    factors: tuple[str, ...]
    authenticated_at: datetime


class _Columns(Protocol):
    """A result row read by column name."""

    def __getitem__(self, name: str, /) -> Any: ...


def principal_from(row: _Columns) -> Principal:
    """The principal in a row of `principal_query` or `principal_batch_query`, read by column name
    (a SQLAlchemy `RowMapping` or an asyncpg `Record`)."""
    return Principal(
        session_id=row["session_id"],
        user_id=row["user_id"],
        username=row["username"],
        expiry=row["expiry"],
        long_lived=row["long_lived"],
        is_api_key=row["is_api_key"],
        is_superuser=row["is_superuser"],
        aal=row["aal"],
        factors=tuple(factors.split(",")) if (factors := row["factors"]) else (),
        authenticated_at=row["authenticated_at"],
    )


def _principal_select(sessions: FromClause, *matched: ColumnElement[Any]) -> Select[Any]:
    """The principal columns (after `matched`, named as `Principal`'s fields) of valid sessions of
    users who may sign in.

    `sessions` is where the session rows come from: the table itself, or a join onto it.
    `now` and `idle_cutoff` (= now - idle TTL) are bind parameters, so a statement built on this
    can be prepared once. Every principal query is built here, so they all enforce one rule.
    """
    now = bindparam("now", type_=UserSession.created.type)
    idle_cutoff = bindparam("idle_cutoff", type_=UserSession.created.type)
    return (
        select(
            *matched,
            UserSession.id.label("session_id"),
            UserSession.user_id.label("user_id"),
            User.username.label("username"),
            UserSession.expiry.label("expiry"),
            UserSession.long_lived.label("long_lived"),
            UserSession.is_api_key.label("is_api_key"),
            User.is_superuser.label("is_superuser"),
            UserSession.aal.label("aal"),
            UserSession.factors.label("factors"),
            # NULL only on sessions older than second factors: read as `created` (`UserSession.authenticated`)
            func.coalesce(UserSession.authenticated_at, UserSession.created, type_=UserSession.created.type).label(
                "authenticated_at"
            ),
        )
        .select_from(sessions)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.valid_where(now, idle_cutoff),
            User.is_banned.is_(False),
            User.is_deleted.is_(False),
        )
    )


def principal_query() -> Select[Any]:
    """The one-round-trip check: a valid session of the presented kind, of a user who may sign in.

    Parameters: `token_hash`, `is_api_key`, `now`, `idle_cutoff`.
    """
    return _principal_select(UserSession.__table__).where(
        UserSession.token_hash == bindparam("token_hash", type_=UserSession.token_hash.type),
        UserSession.is_api_key == bindparam("is_api_key", type_=UserSession.is_api_key.type),
    )


def principal_batch_query() -> Select[Any]:
    """The same check for many credentials in one statement (PostgreSQL only).

    Parameters: `token_hashes` and `is_api_keys` (parallel arrays), `now`, `idle_cutoff`. Each row
    starts with the token hash and kind it answers (`wanted_hash`, `wanted_kind`); credentials
    without a valid session have no row.
    """
    wanted = (
        func.unnest(
            bindparam("token_hashes", type_=ARRAY(UserSession.token_hash.type)),
            bindparam("is_api_keys", type_=ARRAY(UserSession.is_api_key.type)),
        )
        .table_valued("token_hash", "is_api_key")
        .render_derived("wanted")
    )
    matched = and_(UserSession.token_hash == wanted.c.token_hash, UserSession.is_api_key == wanted.c.is_api_key)
    return _principal_select(
        wanted.join(UserSession, matched),
        wanted.c.token_hash.label("wanted_hash"),
        wanted.c.is_api_key.label("wanted_kind"),
    )


PRINCIPAL_QUERY = principal_query()


def principal_params(token_hash: bytes, is_api_key: bool, now: datetime, idle_ttl: timedelta) -> dict[str, object]:
    return {"token_hash": token_hash, "is_api_key": is_api_key, "now": now, "idle_cutoff": now - idle_ttl}


def find_principal(
    db: Session, token_hash: bytes, is_api_key: bool, now: datetime, idle_ttl: timedelta
) -> Principal | None:
    row = db.execute(PRINCIPAL_QUERY, principal_params(token_hash, is_api_key, now, idle_ttl)).first()
    return None if row is None else principal_from(row._mapping)


def get_valid(db: Session, user_id: int, session_id: int, now: datetime, idle_ttl: timedelta) -> UserSession | None:
    """The user's session `session_id` if it is still valid."""
    return db.scalars(
        select(UserSession).where(
            UserSession.id == session_id,
            UserSession.user_id == user_id,
            UserSession.is_valid_at(now, idle_ttl),
        )
    ).first()


def reauthenticated(db: Session, session_id: int, now: datetime, *, factors: str, aal: int) -> None:
    """A factor was proved again in this session (re-authentication)."""
    db.execute(
        update(UserSession)
        .where(UserSession.id == session_id)
        .values(authenticated_at=now, factors=factors, aal=aal)
        .execution_options(synchronize_session=False)
    )


def end(db: Session, session_id: int, now: datetime) -> int:
    """Mark one session deleted; returns 1 if it was live."""
    result = db.execute(
        update(UserSession).where(UserSession.id == session_id, UserSession.deleted.is_(None)).values(deleted=now)
    )
    return changed(result)


def end_for_user(
    db: Session,
    user_id: int,
    now: datetime,
    *,
    except_session_id: int | None = None,
    cookies_only: bool = False,
) -> int:
    """End the user's live sessions (optionally keeping one, optionally sparing API keys)."""
    conditions = [UserSession.user_id == user_id, UserSession.deleted.is_(None), UserSession.expiry >= now]
    if except_session_id is not None:
        conditions.append(UserSession.id != except_session_id)
    if cookies_only:
        conditions.append(UserSession.is_api_key.is_(False))
    result = db.execute(update(UserSession).where(*conditions).values(deleted=now))
    return changed(result)


def list_valid(
    db: Session,
    user_id: int,
    now: datetime,
    idle_ttl: timedelta,
    *,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> Sequence[UserSession]:
    """Valid sessions, most recently seen first; keyset pagination on (last_seen, id)."""
    stmt = select(UserSession).where(UserSession.user_id == user_id, UserSession.is_valid_at(now, idle_ttl))
    if after is not None:
        stmt = stmt.where(tuple_(UserSession.last_seen, UserSession.id) < tuple_(*after))
    stmt = stmt.order_by(UserSession.last_seen.desc(), UserSession.id.desc()).limit(limit)
    return db.scalars(stmt).all()


# psycopg (frontdesk's one PostgreSQL driver, see settings) sends `%(name)b` parameters in binary:
# a flush of 3,500 touches spends ~2 ms of the server's CPU on them instead of ~14 ms for text
# arrays (the flush shares the GIL with verify)
_TOUCH_POSTGRESQL = (
    "UPDATE sessions AS s SET last_seen = GREATEST(s.last_seen, v.seen), api_calls = s.api_calls + v.calls "
    "FROM unnest(CAST(%(ids)b AS bigint[]), CAST(%(seens)b AS timestamptz[]), CAST(%(calls)b AS integer[])) "
    "AS v(id, seen, calls) WHERE s.id = v.id"
)


def apply_touches(db: Session, touches: Sequence[Touch]) -> None:
    """Write coalesced uses in one statement; last_seen only moves forward.

    On PostgreSQL the whole batch is one UPDATE joined to `unnest` of three binary arrays (one
    round trip, whatever the batch size); on SQLite an executemany of the same update.
    """
    if not touches:
        return
    ordered = sorted(touches, key=lambda t: t.session_id)  # one lock order for concurrent flushers
    if db.get_bind().dialect.name == "postgresql":
        # Uses are bookkeeping, not security: a database crash may lose the last few hundred
        # milliseconds of them, so this commit need not wait for the WAL flush.
        db.execute(text("SET LOCAL synchronous_commit = off"))
        params = {
            "ids": [t.session_id for t in ordered],
            "seens": [t.last_seen for t in ordered],
            "calls": [t.calls for t in ordered],
        }
        db.connection().exec_driver_sql(_TOUCH_POSTGRESQL, params)
        return
    stmt = (
        update(UserSession)
        .where(UserSession.id == bindparam("sid"))
        .values(
            last_seen=case(
                (UserSession.last_seen < bindparam("seen", type_=UserSession.last_seen.type), bindparam("seen")),
                else_=UserSession.last_seen,
            ),
            api_calls=UserSession.api_calls + bindparam("calls"),
        )
    )
    db.connection().execute(stmt, [{"sid": t.session_id, "seen": t.last_seen, "calls": t.calls} for t in ordered])


def id_bounds(db: Session) -> tuple[int, int]:
    low, high = db.execute(select(func.min(UserSession.id), func.max(UserSession.id))).one()
    return (int(low or 0), int(high or 0))


def delete_dead_in_range(db: Session, first_id: int, last_id: int, cutoff: datetime, idle_ttl: timedelta) -> int:
    """Delete sessions in an id range that were dead before `cutoff` (expired, ended, or idle)."""
    dead = or_(
        UserSession.expiry < cutoff,
        UserSession.deleted < cutoff,
        and_(UserSession.long_lived.is_(False), UserSession.last_seen < cutoff - idle_ttl),
    )
    result = db.execute(
        delete(UserSession)
        .where(UserSession.id >= first_id, UserSession.id <= last_id, dead)
        .execution_options(synchronize_session=False)
    )
    return changed(result)
