"""The public URL in development follows the address actually served, and a public URL that
disagrees with where requests arrive is said out loud (startup, first refusal, the error itself)."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.serving import plan_public_url, served_url
from frontdesk.settings import Settings
from tests.live import LiveServer, free_port, start_server
from tests.web.helpers import BACKENDS, error_code, latest_email, token_in, unique


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    return url


def test_served_url_names_what_a_local_browser_opens() -> None:
    assert served_url("127.0.0.1", 18100) == "http://127.0.0.1:18100"
    assert served_url("localhost", 18100) == "http://localhost:18100"
    assert served_url("::1", 8000) == "http://[::1]:8000"
    assert served_url("[::1]", 8000) == "http://[::1]:8000"
    assert served_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"  # noqa: S104 (a wildcard is reached on loopback)


def test_the_plan_follows_only_in_development_and_only_when_unset(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    unset = plan_public_url(Settings(database_url=db), "127.0.0.1", 18100)
    assert unset.follow == "http://127.0.0.1:18100" and not unset.warning
    same = plan_public_url(Settings(database_url=db, public_url="http://127.0.0.1:18100/"), "127.0.0.1", 18100)
    assert same.follow is None and same.note is None
    other = plan_public_url(Settings(database_url=db, public_url="http://127.0.0.1:8000"), "127.0.0.1", 18100)
    assert other.follow is None and other.warning and other.note is not None
    assert "http://127.0.0.1:8000" in other.note and "http://127.0.0.1:18100" in other.note
    production = Settings(database_url=db, env="production", secret="s" * 32)
    assert plan_public_url(production, "127.0.0.1", 18100).follow is None


def test_without_a_public_url_the_readme_flow_works_on_any_port(backend_url: str, tmp_path: Path) -> None:
    """Before: the public URL stayed :8000, so emails linked there and logout was refused (csrf_failed)."""
    server = start_server(backend_url, tmp_path, set_public_url=False)
    try:
        assert f"it follows this server, {server.url}" in server.log()
        username = unique("port")
        with server.client() as browser:
            body = {"email": f"{username}@example.com", "username": username, "password": "analytical engine 1843"}
            assert browser.post("/v1/signup", json={**body, "name": "Ada"}).status_code == 202
            email = latest_email(browser, body["email"], "confirm")
            assert f"{server.url}/signup/confirm?token=" in email["text"], "the link does not follow the port"
            confirmed = browser.post("/v1/signup/confirm", json={"token": token_in(email)})
            assert confirmed.status_code == 200, confirmed.text
            assert browser.get("/v1/verify").status_code == 200
            assert browser.post("/v1/logout").status_code == 204
            assert browser.get("/v1/verify").status_code == 401
    finally:
        server.stop()


def test_a_public_url_that_disagrees_is_said_once_and_named_in_the_refusal(tmp_path: Path) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}"
    database = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    server = start_server(
        migrated(database), tmp_path, set_public_url=False, extra_env={"FRONTDESK_PUBLIC_URL": elsewhere}
    )
    try:
        assert f"FRONTDESK_PUBLIC_URL is {elsewhere} but this server listens at {server.url}" in server.log()
        with server.client() as browser:
            for _ in range(3):
                refused = browser.post("/v1/logout")
                assert error_code(refused, 403) == "csrf_failed"
                assert elsewhere in refused.json()["error"]["message"], "the refusal does not name the expected origin"
        log = stop_and_read(server)
        assert log.count("csrf.refused") == 1, log
        assert log.count("public_url.mismatch") == 1, log
    finally:
        server.stop()


def migrated(database_url: str) -> str:
    from frontdesk.runtime import Frontdesk

    fd = Frontdesk(Settings(database_url=database_url))
    fd.migrate()
    fd.close()
    return database_url


def stop_and_read(server: LiveServer) -> str:
    server.stop()
    return server.log()
