"""The worker as its own process, and inside the server; several processes on one PostgreSQL outbox."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.clock import FrozenClock
from frontdesk.db import make_engine
from frontdesk.mail import enqueue_email, run_worker, start_worker
from frontdesk.models import OutboxEmail
from frontdesk.settings import Settings
from tests.mail.conftest import SmtpServer
from tests.mail.helpers import context, enqueue, rows
from tests.waiting import wait_until


def worker_process(database_url: str, smtp_url: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(FRONTDESK_DATABASE_URL=database_url, FRONTDESK_SMTP_URL=smtp_url, PYTHONWARNINGS="error")
    return subprocess.Popen(
        [sys.executable, "-m", "frontdesk.cli", "mail-worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_once_process_drains_the_outbox(
    database_url: str, factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, smtp_server: SmtpServer
) -> None:
    enqueue(factory, settings, clock, count=3)
    clock.set(clock.now() - timedelta(seconds=1))  # the child uses the real clock; be due for it
    proc = worker_process(database_url, smtp_server.url(), "--once", "--batch", "2")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip() == "sent=3 retried=0 failed=0"
    assert len(smtp_server.messages()) == 3
    assert {row.status for row in rows(factory)} == {"sent"}


def test_run_worker_once_in_process(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock, smtp_server: SmtpServer
) -> None:
    enqueue(factory, settings, clock, count=2)
    report = run_worker(settings.model_copy(update={"smtp_url": SecretStr(smtp_server.url())}), once=True)
    assert report.sent == 2 and len(smtp_server.messages()) == 2


def test_server_worker_thread_keeps_dev_mail_in_the_outbox(
    factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    worker = start_worker(settings, factory, clock=clock, poll_interval=timedelta(milliseconds=10))
    try:
        enqueue(factory, settings, clock)
        assert wait_until(lambda: rows(factory)[0].status == "sent", 5)
    finally:
        worker.stop()
    assert "token=" in rows(factory)[0].text_body  # no SMTP: the dev mailbox keeps the link


def test_two_worker_processes_share_one_postgresql_outbox(
    postgresql_database_url: str, smtp_server: SmtpServer
) -> None:
    settings = Settings(database_url=postgresql_database_url)
    engine = make_engine(settings)
    factory = sessionmaker(engine, expire_on_commit=False)
    clock = FrozenClock()
    try:
        with factory.begin() as db:
            db.execute(delete(OutboxEmail))
            past = clock.now() - timedelta(days=1)  # due for the children's real clock too
            for n in range(500):
                enqueue_email(
                    db,
                    settings,
                    past,
                    kind="login_link",
                    to=f"user{n}@example.com",
                    context=context(settings, "login_link", name=f"User {n}"),
                )
        procs = [worker_process(postgresql_database_url, smtp_server.url(), "--once", "--batch", "10") for _ in "ab"]
        outputs = [proc.communicate(timeout=60) for proc in procs]
        for proc, (_out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err
        sent = [int(out.split()[0].removeprefix("sent=")) for out, _ in outputs]
        received = smtp_server.messages()
        assert sum(sent) == 500 and len(received) == 500
        assert len({m["To"] for m in received}) == 500  # nobody got two
        assert len({m["Message-ID"] for m in received}) == 500
        with factory() as db:
            statuses = dict(db.execute(select(OutboxEmail.status, func.count()).group_by(OutboxEmail.status)).all())
        assert statuses == {"sent": 500}
    finally:
        with factory.begin() as db:
            db.execute(delete(OutboxEmail))
        engine.dispose()
