"""An unusable database: one line saying why and what to do; an outage logged once, summarised, ended."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from frontdesk.availability import Outage, check_database, explain
from frontdesk.clock import SystemClock
from frontdesk.db import make_engine, make_sessionmaker
from frontdesk.errors import DatabaseUnavailable
from frontdesk.mail import MailWorker, MemoryTransport
from frontdesk.migrate import upgrade
from frontdesk.settings import Settings
from tests.databases import POSTGRES_URL
from tests.live import free_port


def _problem(url: str, *, migrated: bool = True) -> str:
    engine = make_engine(Settings(database_url=url))
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            check_database(engine, url, migrated=migrated)
    finally:
        engine.dispose()
    return str(caught.value)


def _postgres(**parts: Any) -> str:
    from sqlalchemy.engine import make_url

    return make_url(POSTGRES_URL).set(**parts).render_as_string(hide_password=False)


def test_a_missing_postgresql_database() -> None:
    url = _postgres(database="does_not_exist", password="pw-not-shown")
    line = _problem(url)
    assert "\n" not in line and "pw-not-shown" not in line
    assert 'database "does_not_exist" does not exist; create it (createdb does_not_exist)' in line


def test_nothing_listening() -> None:
    line = _problem(f"postgresql://app@127.0.0.1:{free_port()}/app")
    assert "\n" not in line and "Connection refused; nothing answers there" in line


def test_an_unknown_role() -> None:
    line = _problem(_postgres(username="no_such_role_here"))
    assert 'role "no_such_role_here" does not exist; fix the user or password' in line


def test_sqlite_in_a_missing_folder(tmp_path: Path) -> None:
    line = _problem(f"sqlite:///{tmp_path}/missing/frontdesk.db")
    assert line.endswith(
        "unable to open database file; the folder must exist and this user must be able to write to it"
    )


def test_a_database_without_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    assert "has no frontdesk tables yet; run `frontdesk migrate` first" in _problem(url)
    engine = make_engine(Settings(database_url=url))
    check_database(engine, url, migrated=False)  # what `migrate` asks: reachable is enough
    engine.dispose()


def test_explain_hides_the_password() -> None:
    exc = OperationalError("SELECT 1", {}, Exception("connection refused"))
    assert explain(exc, "postgresql://app:hunter2@db/app") == (
        "cannot use the database postgresql://app:***@db/app: connection refused; "
        "nothing answers there: start PostgreSQL, or fix the host and port"
    )


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_outage_is_logged_once_then_summarised_then_ended(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeTime()
    outage = Outage(every=60, clock=clock)
    exc = OperationalError("SELECT 1", {}, Exception("connection refused"))
    with caplog.at_level(logging.INFO, logger="frontdesk.database"):
        outage.recovered()  # nothing to end
        for second in range(0, 150, 2):  # a retry every 2 s for 2.5 minutes
            clock.now = second
            outage.failed(exc, "mail worker")
        clock.now = 151
        outage.recovered()
        outage.recovered()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "database unavailable (mail worker): connection refused; retrying, with a summary every 60s until it is back",
        "database still unavailable after 60s (31 failed attempts); last error (mail worker): connection refused",
        "database still unavailable after 120s (61 failed attempts); last error (mail worker): connection refused",
        "database available again after 151s (75 failed attempts)",
    ]
    assert all(r.exc_info is None for r in caplog.records)  # no tracebacks


def test_mail_worker_outage_in_a_real_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The worker on a SQLite file whose folder appears only later: down, summaries, back; no traceback."""
    folder = tmp_path / "later"
    settings = Settings(database_url=f"sqlite:///{folder}/frontdesk.db")
    engine = make_engine(settings)
    outage = Outage(every=0.5)
    worker = MailWorker(
        make_sessionmaker(engine),
        MemoryTransport(),
        SystemClock(),
        settings,
        outage=outage,
        poll_interval=timedelta(milliseconds=50),
    )
    with caplog.at_level(logging.INFO):
        thread = threading.Thread(target=worker.run)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while "database still unavailable" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            folder.mkdir()
            upgrade(engine)
            while outage.down and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.stop()
            thread.join(10)
            engine.dispose()
    lines = [r.getMessage() for r in caplog.records if r.name == "frontdesk.database"]
    assert lines[0].startswith("database unavailable (mail worker): unable to open database file")
    assert any(line.startswith("database still unavailable after") for line in lines)
    assert lines[-1].startswith("database available again after")
    assert sum(line.startswith("database unavailable") for line in lines) == 1
    assert all(r.exc_info is None for r in caplog.records), [r.getMessage() for r in caplog.records if r.exc_info]
