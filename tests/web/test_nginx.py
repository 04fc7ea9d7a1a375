"""A real nginx with `auth_request` in front of a tiny app and a real frontdesk, configured with the
nginx block of docs/reverse-proxy.md (only its addresses changed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.live import LiveServer, free_port
from tests.waiting import wait_until
from tests.web.helpers import (
    BACKENDS,
    TRUSTED_PROXY,
    bearer,
    create_api_key,
    log_in,
    make_account,
    shared_server,
)

DOC = Path(__file__).parents[2] / "docs" / "reverse-proxy.md"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
CLIENT = "127.0.0.3"  # the browser's address, as nginx sees it

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")


class Echo(BaseHTTPRequestHandler):
    """The app behind the proxy: answers with the path and headers it received."""

    received: list[dict[str, object]]

    def do_GET(self) -> None:
        seen: dict[str, object] = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
        self.received.append(seen)
        body = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@dataclass
class Stack:
    nginx_url: str
    frontdesk: LiveServer
    received: list[dict[str, object]]

    def browser(self) -> httpx.Client:
        """A browser at CLIENT that talks to nginx only (and claims to be the public origin)."""
        transport = httpx.HTTPTransport(local_address=CLIENT)
        headers = {"Origin": self.frontdesk.url, "User-Agent": "nginx-test", "X-Forwarded-For": "81.2.69.142"}
        return httpx.Client(base_url=self.nginx_url, headers=headers, transport=transport, timeout=30)


def nginx_config(prefix: Path, listen: int, frontdesk_port: int, app_port: int) -> str:
    """The documented server block, pointed at our ports, inside a minimal main configuration."""
    blocks = re.findall(r"```nginx\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    (documented,) = [block for block in blocks if "upstream frontdesk" in block]
    block = (
        documented.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{frontdesk_port};")
        .replace("server 127.0.0.1:3000;", f"server 127.0.0.1:{app_port};")
        .replace("listen 80;", f"listen 127.0.0.1:{listen};\n    proxy_bind {TRUSTED_PROXY};")
    )
    assert f"listen 127.0.0.1:{listen};" in block and str(frontdesk_port) in block and str(app_port) in block
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in kinds)
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
daemon off;
{user}
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 128; }}
http {{
    access_log {prefix / "access.log"};
{temp}
{block}
}}
"""


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    if not wait_until(listening, 15):
        raise RuntimeError(f"nginx did not listen in time:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    frontdesk = shared_server(request, request.param)
    received: list[dict[str, object]] = []
    handler = type("Handler", (Echo,), {"received": received})
    app = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=app.serve_forever, daemon=True).start()

    prefix = tmp_path_factory.mktemp("nginx")
    port = free_port()
    frontdesk_port = int(frontdesk.url.rsplit(":", 1)[1])
    (prefix / "nginx.conf").write_text(nginx_config(prefix, port, frontdesk_port, app.server_address[1]))
    log = prefix / "error.log"
    assert NGINX is not None
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(log)]
    with (prefix / "stdout.log").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield Stack(f"http://127.0.0.1:{port}", frontdesk, received)
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful shutdown
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        app.shutdown()
        app.server_close()


def test_anonymous_requests_get_401_and_never_reach_the_app(stack: Stack) -> None:
    before = len(stack.received)
    with stack.browser() as browser:
        assert browser.get("/dashboard").status_code == 401
        forged = browser.get("/dashboard", headers={"X-Frontdesk-User-Id": "1", "Cookie": "frontdesk-session=x"})
        assert forged.status_code == 401
        assert browser.get("/dashboard", headers=bearer("fdk_not_a_key")).status_code == 401
    assert len(stack.received) == before


def test_signed_in_requests_reach_the_app_with_the_identity(stack: Stack) -> None:
    account = make_account(stack.frontdesk)
    with stack.browser() as browser:
        login = log_in(browser, account.username)  # through nginx, on the app's origin
        assert login.status_code == 200, login.text
        session_id = login.json()["session"]["id"]
        response = browser.get("/dashboard?tab=1", headers={"X-Frontdesk-User-Id": "1", "X-Frontdesk-Username": "root"})
        assert response.status_code == 200, response.text
        seen = response.json()
        assert seen["path"] == "/dashboard?tab=1"
        headers = seen["headers"]
        assert headers["x-frontdesk-user-id"] == str(account.user_id), "the client's forged header got through"
        assert headers["x-frontdesk-username"] == account.username
        assert headers["x-frontdesk-session-id"] == str(session_id)

        (item,) = [s for s in browser.get("/v1/sessions").json()["sessions"] if s["id"] == session_id]
        assert item["ip_address"] == CLIENT, "the address nginx saw, not the one the client claimed"
        assert item["user_agent"] == "nginx-test"

        key = str(create_api_key(browser, account)["token"])
        assert browser.post("/v1/logout").status_code == 204
        assert browser.get("/dashboard").status_code == 401
    with httpx.Client(base_url=stack.nginx_url, headers=bearer(key)) as api:
        by_key = api.get("/reports")
        assert by_key.status_code == 200
        assert by_key.json()["headers"]["x-frontdesk-user-id"] == str(account.user_id)
        both = api.get("/reports", headers={"Cookie": "frontdesk-session=whatever"})
        assert both.status_code == 401, "a cookie and a bearer token together are ambiguous"
