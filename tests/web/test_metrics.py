"""Who may read `/metrics`: a bearer token when one is set; otherwise anyone in development and
only a scraper on this machine in production."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from frontdesk.runtime import Frontdesk
from frontdesk.settings import Settings
from frontdesk.web.app import create_app
from tests.web.helpers import BACKENDS, STRICT_ENV, TRUSTED_PROXY, bearer, error_code, run_async, shared_server

TOKEN = STRICT_ENV["FRONTDESK_METRICS_TOKEN"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_with_a_token_metrics_need_it(request: pytest.FixtureRequest, backend: str) -> None:
    strict = shared_server(request, backend, "strict")  # production, FRONTDESK_METRICS_TOKEN set
    with httpx.Client(base_url=strict.url) as scraper:
        assert scraper.get("/metrics", headers=bearer(TOKEN)).status_code == 200
        assert "frontdesk_http_requests_total" in scraper.get("/metrics", headers=bearer(TOKEN)).text
        for headers in ({}, bearer(TOKEN + "x"), bearer(TOKEN[:-1]), {"Authorization": f"Basic {TOKEN}"}):
            refused = scraper.get("/metrics", headers=headers)
            assert error_code(refused, 401) == "unauthenticated", headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "frontdesk_" not in refused.text


def app_for(tmp_path: Path, **settings: object) -> Frontdesk:
    fd = Frontdesk(Settings(database_url=f"sqlite:///{tmp_path / 'frontdesk.db'}", **settings))  # type: ignore[arg-type]
    fd.migrate()
    return fd


def scrape(fd: Frontdesk, peer: str, headers: dict[str, str] | None = None) -> httpx.Response:
    app = create_app(frontdesk=fd, send_mail=False)

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            return await client.get("/metrics", headers=headers)

    return run_async(get)


def test_production_without_a_token_answers_only_this_machine(tmp_path: Path) -> None:
    fd = app_for(tmp_path, env="production", secret="s" * 32, smtp_url="smtp://127.0.0.1:1")
    assert scrape(fd, "127.0.0.1").status_code == 200
    assert scrape(fd, "::1").status_code == 200
    for peer, headers in (
        ("203.0.113.9", None),
        ("192.0.2.2", None),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}),  # a local proxy's client is not local
        (TRUSTED_PROXY, {"X-Forwarded-For": "127.0.0.1"}),
    ):
        refused = scrape(fd, peer, headers)
        assert error_code(refused, 403) == "forbidden", peer
        assert "FRONTDESK_METRICS_TOKEN" in refused.json()["error"]["message"]
    fd.close()


def test_development_without_a_token_is_open_and_a_token_holds_everywhere(tmp_path: Path) -> None:
    open_fd = app_for(tmp_path)
    assert scrape(open_fd, "203.0.113.9").status_code == 200
    open_fd.close()
    guarded = app_for(tmp_path, metrics_token=TOKEN)
    assert error_code(scrape(guarded, "127.0.0.1"), 401) == "unauthenticated"  # even locally
    assert scrape(guarded, "203.0.113.9", bearer(TOKEN)).status_code == 200
    guarded.close()


def test_a_short_token_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="metrics_token"):
        Settings(database_url="sqlite://", metrics_token="short")
