"""The one unit of work: commit on success, roll back on error, keep what an outcome-error recorded."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.db import transaction
from frontdesk.errors import FrontdeskError, InvalidCredentials, NotFound
from frontdesk.models import AuthEvent

SRC = Path(__file__).resolve().parents[1] / "src" / "frontdesk"


def record(db: Session, event: str) -> None:
    db.add(AuthEvent(created=datetime.now(UTC), event=event))
    db.flush()


def recorded(factory: sessionmaker[Session], event: str) -> int:
    with factory() as db:
        return int(db.scalar(select(func.count()).where(AuthEvent.event == event)) or 0)


def test_commits_on_success(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as db:
        record(db, "test.committed")
    assert recorded(factory, "test.committed") == 1


@pytest.mark.parametrize("error", [NotFound(), FrontdeskError("abort"), RuntimeError("crash")])
def test_rolls_back_on_an_error(factory: sessionmaker[Session], error: Exception) -> None:
    with pytest.raises(type(error)), transaction(factory) as db:
        record(db, "test.rolled_back")
        raise error
    assert recorded(factory, "test.rolled_back") == 0


def test_keeps_what_an_outcome_error_recorded(factory: sessionmaker[Session]) -> None:
    assert InvalidCredentials.keep_changes
    with pytest.raises(InvalidCredentials), transaction(factory) as db:
        record(db, "test.kept")
        raise InvalidCredentials()
    assert recorded(factory, "test.kept") == 1


def test_only_the_unit_of_work_commits() -> None:
    """Every edge (HTTP, CLI, mail worker, cleanup, touch flusher) goes through `db.transaction` (and a
    use case commits part-way only through `db.checkpoint`):
    no other module commits, rolls back or begins a session's transaction itself."""
    owning = re.compile(r"\.(commit|rollback)\(\)|factory\.begin\(|factory\(\)")
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "db.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if owning.search(line)
    ]
    assert offenders == []
