"""Development mode is for this machine: a real secret without configuration, the mailbox for
loopback clients only, and `serve` refusing a network address unless told on purpose."""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from frontdesk.devsecret import development_secret, secret_path
from frontdesk.runtime import Frontdesk
from frontdesk.serving import is_loopback_host
from frontdesk.settings import Settings
from frontdesk.web.app import create_app
from frontdesk.web.pages.csrf import CsrfTokens
from tests.live import LiveServer, free_port, start_server
from tests.web.helpers import BACKENDS, PASSWORD, TRUSTED_PROXY, error_code, run_async, shared_server, unique

BROWSER = "b" * 43
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (what the tests below try to listen on)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def migrated(path: Path) -> str:
    """A migrated SQLite database of the test's own, by URL."""
    fd = Frontdesk(Settings(database_url=sqlite_url(path)))
    fd.migrate()
    fd.close()
    return sqlite_url(path)


# --- the development secret ----------------------------------------------------------------------


def test_a_missing_secret_is_made_once_and_kept_next_to_the_sqlite_database(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "frontdesk.db")
    first = Settings(database_url=url)
    kept = tmp_path / "frontdesk.db-secret"
    assert kept.exists() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert first.secret is not None and len(first.secret.get_secret_value()) >= 32
    assert first.secret.get_secret_value() == kept.read_text().strip()
    assert Settings(database_url=url).secret == first.secret, "a restart or another worker signs differently"
    other = Settings(database_url=sqlite_url(tmp_path / "other.db"))
    assert other.secret != first.secret


def test_a_server_database_keeps_its_secret_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(database_url="postgresql://someone@127.0.0.1:5432/app")
    assert secret_path(settings.database_url) == Path("frontdesk-dev.secret")
    assert settings.secret is not None
    assert (tmp_path / "frontdesk-dev.secret").read_text().strip() == settings.secret.get_secret_value()


def test_an_in_memory_database_gets_a_secret_of_its_own_and_no_file(tmp_path: Path) -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        assert secret_path(url) is None
        one, two = Settings(database_url=url).secret, Settings(database_url=url).secret
        assert one is not None and two is not None and one != two and len(one.get_secret_value()) >= 32


def test_a_configured_secret_wins_and_production_still_requires_one(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "frontdesk.db")
    settings = Settings(database_url=url, secret="s" * 32)
    assert settings.secret is not None and settings.secret.get_secret_value() == "s" * 32
    assert not (tmp_path / "frontdesk.db-secret").exists()
    with pytest.raises(ValidationError, match="FRONTDESK_ENV=production"):
        Settings(database_url=url, env="production")
    assert not (tmp_path / "frontdesk.db-secret").exists(), "production must never fall back to a file"


def test_workers_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "frontdesk.db")
    with ThreadPoolExecutor(max_workers=16) as pool:
        secrets = set(pool.map(lambda _: development_secret(url), range(64)))
    assert len(secrets) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frontdesk.db-secret"], "temporary files left behind"


def test_a_damaged_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "frontdesk.db-secret").write_text("short\n")
    with pytest.raises(ValidationError, match="delete the file"):
        Settings(database_url=sqlite_url(tmp_path / "frontdesk.db"))


def test_form_tokens_are_keyed_with_the_development_secret(tmp_path: Path) -> None:
    """Before: without FRONTDESK_SECRET the key was empty, so anyone could compute a form token."""
    url = sqlite_url(tmp_path / "frontdesk.db")
    first, restarted = CsrfTokens(Settings(database_url=url)), CsrfTokens(Settings(database_url=url))
    token = first.token(BROWSER, "/login")
    assert restarted.check(BROWSER, "/login", token)
    forged = hmac.new(b"", f"{BROWSER}|/login".encode(), hashlib.sha256).hexdigest()
    assert not first.check(BROWSER, "/login", forged)
    elsewhere = CsrfTokens(Settings(database_url=sqlite_url(tmp_path / "other.db")))
    assert not elsewhere.check(BROWSER, "/login", token)


# --- the mailbox answers loopback clients only ------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest) -> LiveServer:
    return shared_server(request, request.param)


def test_the_mailbox_answers_a_local_browser(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as local:
        assert local.get("/dev/mail.json").status_code == 200
        page = local.get("/dev/mail")
    assert page.status_code == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text


@pytest.mark.parametrize(
    "header",
    [{"X-Forwarded-For": "127.0.0.1"}, {"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=127.0.0.1"}],
)
def test_the_mailbox_is_not_found_through_a_proxy(server: LiveServer, header: dict[str, str]) -> None:
    """A proxy on this machine (trusted or not) is loopback to frontdesk; its clients are not."""
    via_trusted_proxy = httpx.HTTPTransport(local_address=TRUSTED_PROXY)
    for transport in (via_trusted_proxy, None):
        with httpx.Client(base_url=server.url, transport=transport, headers=header) as client:
            for path in ("/dev/mail", "/dev/mail.json"):
                assert error_code(client.get(path), 404) == "not_found"


def test_the_mailbox_is_not_found_from_another_address(tmp_path: Path) -> None:
    fd = Frontdesk(Settings(database_url=migrated(tmp_path / "frontdesk.db")))
    app = create_app(frontdesk=fd, send_mail=False)

    async def from_peer(peer: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            return await client.get("/dev/mail.json")

    for peer in ("203.0.113.9", "::ffff:203.0.113.9", "192.0.2.2", "testclient"):
        assert error_code(run_async(lambda: from_peer(peer)), 404) == "not_found", peer  # noqa: B023
    for peer in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert run_async(lambda: from_peer(peer)).status_code == 200, peer  # noqa: B023
    fd.close()


def network_address() -> str | None:
    """An address of this machine that is not loopback (the source of a route outwards; no packet sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == ALL_INTERFACES else address


# --- serve refuses the network in development ----------------------------------------------------


@pytest.mark.parametrize("host", [ALL_INTERFACES, "::", "192.0.2.2", "example.com"])
def test_serve_refuses_development_mode_on_a_network_address(host: str, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env["FRONTDESK_DATABASE_URL"] = sqlite_url(tmp_path / "frontdesk.db")
    env["COLUMNS"] = "200"
    command = [sys.executable, "-m", "frontdesk.cli", "serve", "--host", host, "--port", str(port)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "--insecure-dev-on-network" in done.stderr and host in done.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nothing listened on it


def test_loopback_hosts() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback_host(host), host
    for host in (ALL_INTERFACES, "::", "192.0.2.2", "fd00::2", "example.com", "localhost.example.com", ""):
        assert not is_loopback_host(host), host


def test_on_purpose_it_serves_the_network_loudly_but_keeps_the_mailbox_local(tmp_path: Path) -> None:
    address = network_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    url = migrated(tmp_path / "frontdesk.db")
    server = start_server(url, tmp_path, host=ALL_INTERFACES, serve_args=("--insecure-dev-on-network",))
    try:
        assert f"WARNING: development mode on {ALL_INTERFACES}" in server.log()
        remote = server.url.replace("127.0.0.1", address)
        with httpx.Client(base_url=remote) as outsider:
            username = unique("net")
            body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD, "name": "N"}
            assert outsider.post("/v1/signup", json=body).status_code == 202
            for path in ("/dev/mail", "/dev/mail.json"):
                assert error_code(outsider.get(path), 404) == "not_found"
        with httpx.Client(base_url=server.url) as local:
            assert any(e["to"] == f"{username}@example.com" for e in local.get("/dev/mail.json").json())
    finally:
        server.stop()
