"""Fixtures for social sign-in tests: the real OpenID provider (once per test session), and per test
a frontdesk app naming it, a browser for each side, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page

from frontdesk.oidc_settings import OidcProviders, parse_providers
from frontdesk.runtime import Frontdesk
from frontdesk.web.app import create_app
from tests.databases import BACKENDS
from tests.fast import fast_settings
from tests.live import free_port
from tests.oidc.browser import SocialSite, local_only, start_social_site
from tests.oidc.rig import CLIENT_ID, CLIENT_SECRET, PUBLIC_URL, OidcProvider, start_provider
from tests.oidc.tamper import TamperProxy
from tests.web.pages.conftest import OpenPage, _opener, launch_chromium

STARTUP_TIMEOUT = 10.0


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """panva's oidc-provider on a free loopback port, with a client for frontdesk."""
    provider = start_provider(tmp_path_factory.mktemp("oidc-provider"))
    yield provider
    provider.stop()


@pytest.fixture
def providers(oidc_provider: OidcProvider) -> OidcProviders:
    return parse_providers(provider_env(oidc_provider.issuer))


@pytest.fixture
def social_fd(database_url: str) -> Iterator[Frontdesk]:
    """frontdesk on the test database with the real clock (the provider's tokens carry real times)."""
    instance = Frontdesk(fast_settings(database_url, public_url=PUBLIC_URL))
    yield instance
    instance.close()


@contextmanager
def serve(app: FastAPI, port: int | None = None, origin: str = PUBLIC_URL) -> Iterator[httpx.Client]:
    """`app` served by uvicorn in a thread on a loopback port (a free one unless given), and a
    client of it for the browser's side: cookies kept, redirects not followed."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, name="frontdesk-oidc-tests", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "frontdesk did not start"
    headers = {"Origin": origin, "User-Agent": "frontdesk-oidc-tests"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT)


def provider_env(issuer: str, **extra: str) -> dict[str, str]:
    """Settings naming `issuer` twice, as "corp" (not trusted for email) and "trusted"."""
    env = {"FRONTDESK_OIDC_PROVIDERS": "corp,trusted", "FRONTDESK_OIDC_TRUSTED_TRUST_EMAIL": "true", **extra}
    for name in ("CORP", "TRUSTED"):
        env[f"FRONTDESK_OIDC_{name}_ISSUER"] = issuer
        env[f"FRONTDESK_OIDC_{name}_CLIENT_ID"] = CLIENT_ID
        env[f"FRONTDESK_OIDC_{name}_CLIENT_SECRET"] = CLIENT_SECRET
    return env


@pytest.fixture
def frontdesk(social_fd: Frontdesk, providers: OidcProviders) -> Iterator[httpx.Client]:
    """The browser's side for frontdesk: the app served by uvicorn in a thread on a free loopback
    port (its public URL stays PUBLIC_URL, the provider's registered redirect), cookies kept,
    redirects not followed."""
    with serve(create_app(frontdesk=social_fd, send_mail=False, oidc_providers=providers)) as client:
        yield client


@pytest.fixture
def provider_browser() -> Iterator[httpx.Client]:
    """The same browser's side for the provider: its own cookies, redirects followed by hand."""
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="session")
def tamper_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TamperProxy]:
    """A second instance of the real provider, reached only through the tamper proxy (its issuer)."""
    proxy = TamperProxy()
    provider = start_provider(tmp_path_factory.mktemp("tampered-provider"), issuer=proxy.url)
    proxy.upstream = provider.url
    yield proxy
    proxy.stop()
    provider.stop()


@pytest.fixture
def tamper(tamper_proxy: TamperProxy) -> TamperProxy:
    """The proxy, forwarding faithfully until a test tells it otherwise."""
    tamper_proxy.reset()
    return tamper_proxy


@pytest.fixture
def tampered(social_fd: Frontdesk, tamper: TamperProxy) -> Iterator[httpx.Client]:
    """Like `frontdesk`, with both providers configured at the tamper proxy."""
    providers = parse_providers(provider_env(tamper.url))
    with serve(create_app(frontdesk=social_fd, send_mail=False, oidc_providers=providers)) as client:
        yield client


# --- in a browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium, as `tests/web/pages`' fixture, but for one module at a time: while Playwright's sync
    API runs it keeps an event loop running in this thread, which the tests of the directories
    after this one (asyncio.run, async tests) could not have."""
    with launch_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module", params=BACKENDS)
def social_site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SocialSite]:
    """A live `frontdesk serve` and its own provider (registered with its callbacks), shared by one
    test module on SQLite and on PostgreSQL (each test uses its own users)."""
    database_url: str = request.getfixturevalue(f"{request.param}_database_url")
    site = start_social_site(database_url, tmp_path_factory.mktemp("social-site"))
    yield site
    site.stop()


@pytest.fixture
def open_social_page(browser: Browser, social_site: SocialSite) -> Iterator[OpenPage]:
    """New browser contexts (each its own cookies, for frontdesk and the provider) on `social_site`."""
    opener = _opener(browser, social_site.server)
    open_page = next(opener)

    def open_local_page(**options: object) -> Page:
        page = open_page(**options)
        local_only(page.context)
        return page

    yield open_local_page
    next(opener, None)  # closes the contexts


@pytest.fixture
def sqlite_social_site(sqlite_database_url: str, tmp_path: Path) -> Iterator[SocialSite]:
    """`social_site` on SQLite only (the screenshots and accessibility checks)."""
    site = start_social_site(sqlite_database_url, tmp_path)
    yield site
    site.stop()
