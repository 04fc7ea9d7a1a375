"""Migrations produce exactly the models' schema, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from frontdesk.migrate import upgrade
from frontdesk.models import Base


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
