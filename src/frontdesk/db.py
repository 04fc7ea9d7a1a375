"""Engines and the unit of work. Every edge (a request, a CLI command, a worker tick, a cleanup
batch) owns its transaction through `transaction()`; nothing below it commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.errors import FrontdeskError
from frontdesk.settings import Settings

READONLY = "frontdesk_readonly"


def normalise_url(url: str) -> URL:
    """Accept a plain `postgresql://` URL and pick frontdesk's driver (psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level; SQLAlchemy issues BEGIN itself (see `_sqlite_begin`),
    # so transactions take the write lock at once and concurrent writers queue, not fail.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the lock up front (no deadlock on upgrade); readers don't block anyone.
    readonly = conn.get_execution_options().get(READONLY, False)
    conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def make_engine(settings: Settings, **overrides: Any) -> Engine:
    """An engine for `settings.database_url`, tuned per database."""
    url = normalise_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **overrides)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    timeout_ms = int(settings.db_statement_timeout.total_seconds() * 1000)
    kwargs: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_size,
        "pool_pre_ping": True,
        "pool_timeout": max(1.0, settings.db_statement_timeout.total_seconds()),
        "connect_args": {"connect_timeout": 5, "options": f"-c statement_timeout={timeout_ms}"},
    }
    kwargs.update(overrides)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """A session factory. `readonly=True` is for work that never writes: on PostgreSQL it runs in
    autocommit (one round trip per statement, no BEGIN/COMMIT), on SQLite with a deferred BEGIN
    (readers never wait for writers)."""
    if not readonly:
        return sessionmaker(engine, expire_on_commit=False, autoflush=True)
    if engine.dialect.name == "postgresql":
        bind = engine.execution_options(isolation_level="AUTOCOMMIT")
    else:
        bind = engine.execution_options(**{READONLY: True})
    return sessionmaker(bind, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """The one unit of work: commit on success, roll back on an exception, except that a
    `FrontdeskError` with `keep_changes` (an outcome such as a failed login) commits what the
    work recorded before it is raised on."""
    with factory() as db:
        try:
            yield db
        except FrontdeskError as exc:
            if exc.keep_changes:
                db.commit()
            else:
                db.rollback()
            raise
        except BaseException:
            db.rollback()
            raise
        db.commit()


def checkpoint(db: Session) -> None:
    """Commit what the unit of work has done so far and go on in a new transaction. For counts
    that must stand whatever follows (rate-limit buckets) before slow work (Argon2) that must
    hold no connection, row lock or SQLite write lock while it runs."""
    db.commit()


__all__ = ["checkpoint", "is_sqlite", "make_engine", "make_sessionmaker", "normalise_url", "transaction"]
