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


def bound(name: str, short: int, long: int) -> int:
    """A run's size: FRONTDESK_MODEL_<name> if set, else the long or the short default."""
    return int(os.environ.get(f"FRONTDESK_MODEL_{name}", long if LONG else short))


def test_the_service_layer_keeps_the_contracts_session_rules(tmp_path: Path) -> None:
    url, _ = throwaway_database("sqlite", tmp_path)

    class OnTheServiceLayer(ContractMachine):
        def make_driver(self) -> Driver:
            return ServiceDriver(url)

    run_state_machine_as_test(
        OnTheServiceLayer,
        settings=settings(
            max_examples=bound("EXAMPLES", 20, 300),
            stateful_step_count=bound("STEPS", 30, 60),
            derandomize=not LONG,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
