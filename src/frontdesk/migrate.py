"""Schema migrations through Alembic, driven from code so `frontdesk migrate` needs no alembic.ini."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # imported on use: most commands never migrate

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["engine"] = engine
    return config


@dataclass(frozen=True, slots=True)
class Applied:
    """One migration that an upgrade ran."""

    revision: str
    description: str


@dataclass(frozen=True, slots=True)
class UpgradeReport:
    """What an upgrade did: the migrations it ran (oldest first) and where the database is now."""

    applied: list[Applied]
    current: str | None


def upgrade(engine: Engine, revision: str = "head") -> UpgradeReport:
    """Bring the database to `revision` (the newest by default), in one transaction; say which
    migrations ran.

    On SQLite, foreign keys are off while it runs: a migration that rebuilds a table (batch mode)
    drops the old one, which would otherwise cascade to every row that references it. Before the
    commit, `PRAGMA foreign_key_check` must find no broken reference."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = alembic_config(engine)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys(connection, on=False)  # outside any transaction, where SQLite honours it
        try:
            with connection.begin():
                before = MigrationContext.configure(connection).get_current_heads()
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                after = MigrationContext.configure(connection).get_current_heads()
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("a migration left a broken foreign key; nothing was changed")
        finally:
            if sqlite:
                _foreign_keys(connection, on=True)
    ran = ScriptDirectory.from_config(config).iterate_revisions(after, before or "base") if after != before else []
    applied = [Applied(script.revision, script.doc or "") for script in ran]
    return UpgradeReport(applied=applied[::-1], current=after[0] if after else None)


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    driver = connection.connection.driver_connection
    if driver is not None:
        driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration against `engine` (for developers)."""
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
