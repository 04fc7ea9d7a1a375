"""Throwaway databases for the test rig: a fresh, migrated SQLite file or PostgreSQL database.

PostgreSQL databases are created on the server named by FRONTDESK_TEST_POSTGRES_URL, so parallel
runs never share tables. Without a server they skip, unless FRONTDESK_TEST_REQUIRE_POSTGRES=1 (CI),
which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from frontdesk.db import make_engine, normalise_url
from frontdesk.migrate import upgrade
from frontdesk.models import Base
from frontdesk.settings import Settings

POSTGRES_URL = os.environ.get("FRONTDESK_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("FRONTDESK_TEST_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgresql"]


def admin_engine() -> Engine:
    url = normalise_url(POSTGRES_URL).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def _postgres_problem() -> str | None:
    try:
        engine = admin_engine()
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "no server here"
        return f"PostgreSQL not reachable at {make_url(POSTGRES_URL).render_as_string()}: {type(exc).__name__}"


def _migrate(url: str) -> None:
    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    engine.dispose()


def throwaway_database(backend: str, directory: Path, prefix: str = "frontdesk_test") -> tuple[str, Callable[[], None]]:
    """A new migrated database on `backend` ("sqlite": a file in `directory`), and the function that drops it."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'frontdesk.db'}"
        _migrate(url)
        return url, lambda: None
    problem = _postgres_problem()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(problem + " (FRONTDESK_TEST_REQUIRE_POSTGRES=1)")
        pytest.skip(problem)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    _migrate(url)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def empty_database(url: str) -> None:
    """Delete every row of every table (the schema stays)."""
    engine = make_engine(Settings(database_url=url))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()
