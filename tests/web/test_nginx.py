"""A real nginx with `auth_request` in front of a tiny app and a real frontdesk, configured with the
nginx block of docs/reverse-proxy.md (read from the markdown, only its ports changed).

frontdesk here is a server of its own: its public URL is nginx's (so the links in its emails lead
through nginx) and it sends those emails over real SMTP to a mailbox on loopback."""

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
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from tests.databases import BACKENDS, throwaway_database
from tests.fast import fast_settings
from tests.live import LiveServer, free_port, start_server
from tests.mail.conftest import Collector, SmtpServer
from tests.waiting import wait_until
from tests.web.helpers import PASSWORD, TRUSTED_PROXY, Account, bearer, create_api_key, log_in, unique
from tests.web.pages.forms import csrf_token, submit
from tests.web.test_factors import enrol_totp, first_step

DOC = Path(__file__).parents[2] / "docs" / "reverse-proxy.md"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
CLIENT = "127.0.0.3"  # the browser's address, as nginx sees it
NEW_PASSWORD = "a different horse, battery and staple"

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
    library: Frontdesk
    mailbox: SmtpServer
    received: list[dict[str, object]]

    def browser(self) -> httpx.Client:
        """A browser at CLIENT that talks to nginx only, on the public origin (nginx's)."""
        transport = httpx.HTTPTransport(local_address=CLIENT)
        headers = {"Origin": self.nginx_url, "User-Agent": "nginx-test", "X-Forwarded-For": "81.2.69.142"}
        return httpx.Client(base_url=self.nginx_url, headers=headers, transport=transport, timeout=30)

    def account(self) -> Account:
        """A user made with the library (faster than signing up through the pages)."""
        username = unique("ngx")
        ctx = RequestContext(ip_address="192.0.2.1", user_agent="tests")
        user = self.library.call(
            create_user, email=f"{username}@example.com", username=username, password=PASSWORD, name="N", ctx=ctx
        )
        return Account(user.id, username, f"{username}@example.com")

    def link_in_email(self, to: str, path: str) -> str:
        """The link to `path` in the newest email to `to`, as received over SMTP (waiting for it)."""
        found: list[str] = []

        def look() -> bool:
            for message in reversed(self.mailbox.messages()):
                if message["To"] == to:
                    link = re.search(rf"{re.escape(self.nginx_url + path)}\?token=[A-Za-z0-9_\-]+", text_of(message))
                    if link:
                        found.append(link.group(0))
                        return True
            return False

        assert wait_until(look, 15, interval=0.05), f"no email to {to} with a link to {path}"
        return found[0]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def documented_block() -> str:
    blocks = re.findall(r"```nginx\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    (documented,) = [block for block in blocks if "upstream frontdesk" in block]
    return str(documented)


def nginx_config(prefix: Path, listen: int, frontdesk_port: int, app_port: int) -> str:
    """The documented server block, pointed at our ports, inside a minimal main configuration."""
    block = (
        documented_block()
        .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{frontdesk_port};")
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
    port = free_port()
    nginx_url = f"http://127.0.0.1:{port}"
    mailbox = SmtpServer(free_port(), Collector()).start()
    database_url, drop = throwaway_database(request.param, tmp_path_factory.mktemp("nginx-db"), prefix="fd_nginx")
    library = Frontdesk(fast_settings(database_url))
    env = {
        "FRONTDESK_ENV": "production",
        "FRONTDESK_SECRET": "nginx-test-secret-" + "n" * 32,
        "FRONTDESK_PUBLIC_URL": nginx_url,
        "FRONTDESK_SMTP_URL": mailbox.url(),
        "FRONTDESK_TRUSTED_PROXIES": f"{TRUSTED_PROXY}/32",
        "FRONTDESK_LOGIN_FAILURES_PER_IP": "1000000",
        "FRONTDESK_EMAILS_PER_IP": "1000000",
    }
    frontdesk = start_server(database_url, tmp_path_factory.mktemp("nginx-frontdesk"), extra_env=env)
    received: list[dict[str, object]] = []
    handler = type("Handler", (Echo,), {"received": received})
    app = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=app.serve_forever, daemon=True).start()

    prefix = tmp_path_factory.mktemp("nginx")
    frontdesk_port = int(frontdesk.url.rsplit(":", 1)[1])
    (prefix / "nginx.conf").write_text(nginx_config(prefix, port, frontdesk_port, app.server_address[1]))
    log = prefix / "error.log"
    assert NGINX is not None
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(log)]
    with (prefix / "stdout.log").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield Stack(nginx_url, frontdesk, library, mailbox, received)
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful shutdown
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        app.shutdown()
        app.server_close()
        frontdesk.stop()
        mailbox.stop()
        library.close()
        drop()


def goes_to_login(response: httpx.Response, original: str) -> None:
    """One redirect to /login?next=<original, percent-encoded>."""
    assert response.status_code in (302, 303), f"{response.status_code} {response.text[:300]}"
    location = response.headers["location"]
    assert location.startswith("/login?"), location
    assert parse_qs(urlsplit(location).query)["next"] == [original], location
    encoded = "/login?" + urlencode({"next": original})
    assert location in (encoded, encoded + "&reason=signed_out"), location


def test_pages_static_and_links_are_open_and_never_reach_the_app(stack: Stack) -> None:
    before = len(stack.received)
    with stack.browser() as browser:
        for page in ("/login", "/signup", "/forgot-password", "/login-link"):
            shown = browser.get(page)
            assert shown.status_code == 200, f"{page}: {shown.status_code}"
            assert "text/html" in shown.headers["content-type"]
        css = browser.get("/static/frontdesk.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        dead = browser.get("/reset-password?token=not-a-real-token")
        assert dead.status_code == 400 and "text/html" in dead.headers["content-type"], "frontdesk's dead-link page"
        assert browser.get("/account").status_code == 303, "frontdesk's own page asks for a sign-in"
    assert len(stack.received) == before


def test_signed_out_requests_go_to_login_once_and_never_reach_the_app(stack: Stack) -> None:
    original = "/dashboard?tab=1&q=a%2Fb+c&x=%C3%A9"
    before = len(stack.received)
    with stack.browser() as browser:
        goes_to_login(browser.get(original), original)
        forged = browser.get("/dashboard", headers={"X-Frontdesk-User-Id": "1", "Cookie": "frontdesk-session=x"})
        goes_to_login(forged, "/dashboard")
        assert "reason=signed_out" in forged.headers["location"], "a dead cookie is told so"
        goes_to_login(browser.get("/dashboard", headers=bearer("fdk_not_a_key")), "/dashboard")

        followed = browser.get(original, follow_redirects=True)
        assert len(followed.history) == 1, [r.headers.get("location") for r in followed.history]
        assert followed.status_code == 200 and followed.url.path == "/login"
        assert f'name="next" value="{original.replace("&", "&amp;")}"' in followed.text
    assert len(stack.received) == before


def test_the_sign_in_redirect_never_leads_off_site(stack: Stack) -> None:
    """`/login/from-proxy` trusts `X-Forwarded-Uri` no more than `?next=`: another host becomes /account."""
    for hostile in ("//evil.example/x", "https://evil.example/", "/\\evil.example", ""):
        answer = httpx.get(f"{stack.frontdesk.url}/login/from-proxy", headers={"X-Forwarded-Uri": hostile})
        goes_to_login(answer, "/account")


def test_signup_page_and_emailed_link_then_back_to_where_the_browser_was_going(stack: Stack) -> None:
    username = unique("ngx")
    email = f"{username}@example.com"
    original = "/reports/2026?sort=-date&filter=a+b"
    with stack.browser() as browser:
        fields = {"name": "Nginx User", "email": email, "username": username, "password": PASSWORD}
        asked = submit(browser, "/signup", "/signup", **fields)
        assert asked.status_code == 200 and "Check your email" in asked.text, asked.text[:500]

        link = stack.link_in_email(email, "/signup/confirm")
        landing = browser.get(link)  # through nginx: the email's link is on the public origin
        assert landing.status_code == 200, landing.text[:500]
        token = parse_qs(urlsplit(link).query)["token"][0]
        confirm = {"csrf_token": csrf_token(landing.text, "/signup/confirm"), "token": token}
        confirmed = browser.post("/signup/confirm", data=confirm)
        assert confirmed.status_code == 303 and confirmed.headers["location"].startswith("/account"), confirmed.text
        assert browser.get("/account").status_code == 200

        reached = browser.get(original)
        assert reached.status_code == 200, reached.text[:300]
        assert reached.json()["path"] == original
        assert reached.json()["headers"]["x-frontdesk-username"] == username

        out = submit(browser, "/logout", "/logout")
        assert out.status_code == 303
        goes_to_login(browser.get(original), original)

        login_page = browser.get("/login?" + urlencode({"next": original}))
        form = {"csrf_token": csrf_token(login_page.text, "/login"), "user": username, "password": PASSWORD}
        signed_in = browser.post("/login", data={**form, "next": original})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == original, signed_in.text[:300]
        assert browser.get(original).json()["path"] == original


def test_reset_page_and_emailed_link(stack: Stack) -> None:
    account = stack.account()
    with stack.browser() as browser:
        asked = submit(browser, "/forgot-password", "/forgot-password", user=account.email)
        assert asked.status_code == 200, asked.text[:500]
        link = stack.link_in_email(account.email, "/reset-password")
        landing = browser.get(link)
        assert landing.status_code == 200, landing.text[:500]
        token = parse_qs(urlsplit(link).query)["token"][0]
        form = {"csrf_token": csrf_token(landing.text, "/reset-password"), "token": token}
        done = browser.post("/reset-password", data={**form, "new_password": NEW_PASSWORD})
        assert done.status_code == 303, done.text[:500]
        seen = browser.get("/dashboard").json()
        assert seen["headers"]["x-frontdesk-user-id"] == str(account.user_id)
    with stack.browser() as other:
        assert log_in(other, account.username).status_code == 401
        assert log_in(other, account.username, NEW_PASSWORD).status_code == 200


def test_signed_in_requests_reach_the_app_with_the_identity(stack: Stack) -> None:
    account = stack.account()
    with stack.browser() as browser:
        login = log_in(browser, account.username)  # through nginx, on the app's origin
        assert login.status_code == 200, login.text
        session_id = login.json()["session"]["id"]
        forged = {"X-Frontdesk-User-Id": "1", "X-Frontdesk-Username": "root", "X-Frontdesk-AAL": "2"}
        response = browser.get("/dashboard?tab=1", headers=forged)
        assert response.status_code == 200, response.text
        seen = response.json()
        assert seen["path"] == "/dashboard?tab=1"
        headers = seen["headers"]
        assert headers["x-frontdesk-user-id"] == str(account.user_id), "the client's forged header got through"
        assert headers["x-frontdesk-username"] == account.username
        assert headers["x-frontdesk-session-id"] == str(session_id)
        assert headers["x-frontdesk-aal"] == "1", "the client's forged level got through"

        (item,) = [s for s in browser.get("/v1/sessions").json()["sessions"] if s["id"] == session_id]
        assert item["ip_address"] == CLIENT, "the address nginx saw, not the one the client claimed"
        assert item["user_agent"] == "nginx-test"

        key = str(create_api_key(browser, account)["token"])
        assert browser.post("/v1/logout").status_code == 204
        goes_to_login(browser.get("/dashboard"), "/dashboard")
    with httpx.Client(base_url=stack.nginx_url, headers=bearer(key)) as api:
        by_key = api.get("/reports")
        assert by_key.status_code == 200
        assert by_key.json()["headers"]["x-frontdesk-user-id"] == str(account.user_id)
        both = api.get("/reports", headers={"Cookie": "frontdesk-session=whatever"})
        assert both.status_code in (302, 303), "a cookie and a bearer token together are ambiguous"
    assert stack.frontdesk.process.poll() is None


def test_the_aal2_route_needs_a_second_factor(stack: Stack) -> None:
    """`/admin/` asks `/v1/verify?aal=2`: an aal 1 session gets the RFC 9470 challenge, an aal 2 one
    gets through with its level and sign-in time (and a forged level never reaches the app)."""
    account = stack.account()
    with stack.browser() as browser:
        assert log_in(browser, account.username).status_code == 200
        one = browser.get("/admin/users")
        assert one.status_code == 401, f"an aal 1 session got through: {one.status_code}"
        challenge = one.headers["www-authenticate"]
        assert 'error="insufficient_user_authentication"' in challenge and 'acr_values="aal2"' in challenge
        assert browser.get("/dashboard").json()["headers"]["x-frontdesk-aal"] == "1"
        _, codes = enrol_totp(browser)
    with stack.browser() as browser:
        step = first_step(browser, account)
        done = browser.post("/v1/login/second-factor", json={"challenge": step["challenge"], "recovery_code": codes[0]})
        assert done.status_code == 200, done.text
        two = browser.get("/admin/users", headers={"X-Frontdesk-AAL": "1"})
        assert two.status_code == 200, two.text[:300]
        assert two.json()["path"] == "/admin/users"
        assert two.json()["headers"]["x-frontdesk-aal"] == "2"
        assert two.json()["headers"]["x-frontdesk-user-id"] == str(account.user_id)
        assert int(two.json()["headers"]["x-frontdesk-auth-time"]) > 0
