"""`Frontdesk`'s units of work: `call` (the HTTP API and pages), `transaction` (the CLI), `read`."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from frontdesk.errors import FrontdeskError, InvalidCredentials, NotFound
from frontdesk.models import AuthEvent
from frontdesk.runtime import Frontdesk
from frontdesk.service.deps import Deps
from tests.live import LiveServer

Edge = Callable[[Frontdesk, Callable[[Session, Deps], None]], None]


def _through_call(fd: Frontdesk, work: Callable[[Session, Deps], None]) -> None:
    fd.call(work)


def _through_transaction(fd: Frontdesk, work: Callable[[Session, Deps], None]) -> None:
    with fd.transaction() as db:
        work(db, fd.deps)


EDGES = [pytest.param(_through_call, id="call"), pytest.param(_through_transaction, id="transaction")]


def recorded(fd: Frontdesk, event: str) -> int:
    return fd.read(lambda db, _: int(db.scalar(select(func.count()).where(AuthEvent.event == event)) or 0))


def recording_then_raising(event: str, error: Exception | None) -> Callable[[Session, Deps], None]:
    def work(db: Session, deps: Deps) -> None:
        db.add(AuthEvent(created=deps.clock.now(), event=event))
        db.flush()
        if error is not None:
            raise error

    return work


@pytest.mark.parametrize("edge", EDGES)
def test_success_commits(fd: Frontdesk, edge: Edge) -> None:
    edge(fd, recording_then_raising("test.ok", None))
    assert recorded(fd, "test.ok") == 1


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("error", [NotFound(), FrontdeskError("abort"), RuntimeError("crash")])
def test_an_error_rolls_back(fd: Frontdesk, edge: Edge, error: Exception) -> None:
    with pytest.raises(type(error)):
        edge(fd, recording_then_raising("test.gone", error))
    assert recorded(fd, "test.gone") == 0


@pytest.mark.parametrize("edge", EDGES)
def test_an_outcome_error_keeps_what_was_recorded(fd: Frontdesk, edge: Edge) -> None:
    with pytest.raises(InvalidCredentials):
        edge(fd, recording_then_raising("test.kept", InvalidCredentials()))
    assert recorded(fd, "test.kept") == 1


def test_a_failed_login_over_http_is_recorded(live_server: LiveServer, fd: Frontdesk) -> None:
    with httpx.Client(base_url=live_server.url, headers={"Origin": live_server.url}) as client:
        response = client.post("/v1/login", json={"user": "nobody", "password": "wrong password!"})
    assert response.status_code == 401
    assert recorded(fd, "login.failed") == 1  # the 401's transaction still committed its audit event
