"""The contract's model against the service layer on SQLite (fast; part of `make test`)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.databases import throwaway_database
from tests.model.drivers import Driver, ServiceDriver
from tests.model.machine import ContractMachine

LONG = os.environ.get("FRONTDESK_MODEL_LONG") == "1"


def test_the_service_layer_keeps_the_contracts_session_rules(tmp_path: Path) -> None:
    url, _ = throwaway_database("sqlite", tmp_path)

    class OnTheServiceLayer(ContractMachine):
        def make_driver(self) -> Driver:
            return ServiceDriver(url)

    run_state_machine_as_test(
        OnTheServiceLayer,
        settings=settings(
            max_examples=300 if LONG else 20,
            stateful_step_count=60 if LONG else 30,
            derandomize=not LONG,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
