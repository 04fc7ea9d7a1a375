"""Fixtures for social sign-in tests: the real OpenID provider (once per test session), and per test
a frontdesk app naming it, a browser for each side, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from frontdesk.oidc_settings import OidcProviders, parse_providers
from frontdesk.runtime import Frontdesk
from frontdesk.web.app import create_app
from tests.fast import fast_settings
from tests.live import free_port
from tests.oidc.rig import PUBLIC_URL, OidcProvider, start_provider

STARTUP_TIMEOUT = 10.0


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """panva's oidc-provider on a free loopback port, with a client for frontdesk."""
    provider = start_provider(tmp_path_factory.mktemp("oidc-provider"))
    yield provider
    provider.stop()


@pytest.fixture
def providers(oidc_provider: OidcProvider) -> OidcProviders:
    env = {"FRONTDESK_OIDC_PROVIDERS": "corp,trusted", "FRONTDESK_OIDC_TRUSTED_TRUST_EMAIL": "true"}
    for name in ("CORP", "TRUSTED"):
        env[f"FRONTDESK_OIDC_{name}_ISSUER"] = oidc_provider.issuer
        env[f"FRONTDESK_OIDC_{name}_CLIENT_ID"] = oidc_provider.client_id
        env[f"FRONTDESK_OIDC_{name}_CLIENT_SECRET"] = oidc_provider.client_secret
    return parse_providers(env)


@pytest.fixture
def social_fd(database_url: str) -> Iterator[Frontdesk]:
    """frontdesk on the test database with the real clock (the provider's tokens carry real times)."""
    instance = Frontdesk(fast_settings(database_url, public_url=PUBLIC_URL))
    yield instance
    instance.close()


@pytest.fixture
def frontdesk(social_fd: Frontdesk, providers: OidcProviders) -> Iterator[httpx.Client]:
    """The browser's side for frontdesk: the app served by uvicorn in a thread on a free loopback
    port (its public URL stays PUBLIC_URL, the provider's registered redirect), cookies kept,
    redirects not followed."""
    app = create_app(frontdesk=social_fd, send_mail=False, oidc_providers=providers)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, name="frontdesk-oidc-tests", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "frontdesk did not start"
    headers = {"Origin": PUBLIC_URL, "User-Agent": "frontdesk-oidc-tests"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT)


@pytest.fixture
def provider_browser() -> Iterator[httpx.Client]:
    """The same browser's side for the provider: its own cookies, redirects followed by hand."""
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client
