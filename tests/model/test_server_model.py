"""The contract's model against a running `frontdesk serve` on PostgreSQL, over HTTP: every known
credential checked with `/v1/verify` and `/v1/session` after every step. A short run in `make test`;
`make test-model` runs it longer (FRONTDESK_MODEL_LONG=1)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.live import LiveServer, start_server
from tests.model.drivers import Driver
from tests.model.http_driver import SERVER_ENV, HttpDriver
from tests.model.machine import ContractMachine

LONG = os.environ.get("FRONTDESK_MODEL_LONG") == "1"


def bound(name: str, short: int, long: int) -> int:
    """A run's size: FRONTDESK_MODEL_<name> if set, else the long or the short default."""
    return int(os.environ.get(f"FRONTDESK_MODEL_{name}", long if LONG else short))


@pytest.fixture
def model_server(postgresql_database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(postgresql_database_url, tmp_path, extra_env=SERVER_ENV)
    yield server
    server.stop()


@pytest.mark.postgres
def test_a_live_server_keeps_the_contracts_session_rules(model_server: LiveServer) -> None:
    class OverHttp(ContractMachine):
        def make_driver(self) -> Driver:
            return HttpDriver(model_server)

    run_state_machine_as_test(
        OverHttp,
        settings=settings(
            max_examples=bound("EXAMPLES", 3, 100),
            stateful_step_count=bound("STEPS", 20, 50),
            derandomize=not LONG,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
