"""Migrations produce exactly the models' schema, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from frontdesk.db import make_engine
from frontdesk.migrate import upgrade
from frontdesk.models import Base
from frontdesk.settings import Settings


def test_autogenerate_finds_no_difference_after_migrating(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    assert "alembic_version" in inspect(engine).get_table_names()


def test_session_token_index_is_a_hash_index_on_postgresql(engine: Engine) -> None:
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("sessions")}
    assert "ix_sessions_by_token_hash" in indexes
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            method = conn.exec_driver_sql(
                "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
                "WHERE c.relname = 'ix_sessions_by_token_hash'"
            ).scalar()
        assert method == "hash"


def test_sessions_leave_room_for_hot_updates_on_postgresql(engine: Engine) -> None:
    """Touch flushes rewrite session rows; free space on each page keeps those updates HOT."""
    if engine.dialect.name != "postgresql":
        pytest.skip("fillfactor is a PostgreSQL storage parameter")
    with engine.connect() as conn:
        options = conn.exec_driver_sql("SELECT reloptions FROM pg_class WHERE relname = 'sessions'").scalar()
    assert options is not None and "fillfactor=80" in options


def test_every_table_with_an_id_never_reuses_one_on_sqlite(engine: Engine) -> None:
    """SQLite reuses max(rowid) + 1 after deletes unless a table says AUTOINCREMENT."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's sequences never hand a value out twice")
    with_ids = sorted(t.name for t in Base.metadata.sorted_tables if [c.name for c in t.primary_key] == ["id"])
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all()
        ddl: dict[str, str] = {str(name): str(sql) for name, sql in rows}
    assert [name for name in with_ids if "AUTOINCREMENT" not in ddl[name]] == []


def index_names(engine: Engine) -> dict[str, list[str]]:
    return {t: sorted(str(ix["name"]) for ix in inspect(engine).get_indexes(t)) for t in ("users", "sessions")}


def test_the_autoincrement_rebuild_keeps_rows_indexes_and_references(tmp_path: Path) -> None:
    """0003 rebuilds every table on SQLite: rows, indexes and foreign keys survive (nothing cascades),
    and a session id the audit table remembers is never handed out again."""
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'old.db'}"))
    upgrade(engine, "0002_sessions_fillfactor")
    now = "2026-01-01 12:00:00.000000"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO users (id, username, username_key, email, email_key, name, hashed_password, is_superuser,"
            " is_banned, is_deleted, created, last_active) VALUES (7, 'old', 'old', 'old@example.com',"
            f" 'old@example.com', 'Old', 'x', 0, 0, 0, '{now}', '{now}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO sessions (id, user_id, token_hash, is_api_key, long_lived, created, expiry, last_seen,"
            f" api_calls) VALUES (3, 7, randomblob(32), 0, 0, '{now}', '{now}', '{now}', 0)"
        )
        conn.exec_driver_sql(  # session 9 was an API key that cleanup already deleted
            f"INSERT INTO auth_events (id, created, event, user_id, session_id) VALUES (1, '{now}', 'x', 7, 9)"
        )
    indexes_before = index_names(engine)
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT id, user_id FROM sessions").all() == [(3, 7)]
        assert conn.exec_driver_sql("SELECT username FROM users").all() == [("old",)]
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        conn.exec_driver_sql(
            "INSERT INTO sessions (user_id, token_hash, is_api_key, long_lived, created, expiry, last_seen,"
            f" api_calls) VALUES (7, randomblob(32), 0, 0, '{now}', '{now}', '{now}', 0)"
        )
        assert conn.exec_driver_sql("SELECT max(id) FROM sessions").scalar() == 10
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # on again after migrating
    assert index_names(engine) == indexes_before
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
