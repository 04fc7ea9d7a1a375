"""Fixtures for social sign-in tests: the real OpenID provider, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oidc.rig import OidcProvider, start_provider


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """panva's oidc-provider on a free loopback port, with a client for frontdesk."""
    provider = start_provider(tmp_path_factory.mktemp("oidc-provider"))
    yield provider
    provider.stop()
