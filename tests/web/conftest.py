"""Fixtures for the HTTP layer: the session's shared `frontdesk serve` per backend (`server`).

The live server itself is `tests/live.py` (the `live_server` fixture is in `tests/conftest.py`)."""

from __future__ import annotations

import pytest

from tests.databases import BACKENDS
from tests.live import LiveServer
from tests.live import free_port as free_port  # kept importable from here for older test modules
from tests.live import start_server as start_server
from tests.web.helpers import shared_server


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> LiveServer:
    """The session's shared server with the default test configuration, on SQLite and on PostgreSQL."""
    return shared_server(request, request.param)
