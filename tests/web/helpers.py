"""Journeys through the HTTP API that many tests need (sign up, confirm, sign in), checks of the
contract's shapes, and the shared servers the contract tests run against."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypedDict, TypeVar

import httpx
import pytest

from frontdesk.mail import MailboxEntry, list_mailbox
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from tests.databases import BACKENDS as BACKENDS
from tests.databases import throwaway_database
from tests.fast import fast_settings
from tests.live import LiveServer, start_server
from tests.waiting import wait_until

PASSWORD = "correct horse battery staple"
T = TypeVar("T")


def latest_email(client: httpx.Client, to: str, subject_has: str = "", wait: float = 5.0) -> dict[str, str]:
    """The newest email to `to` whose subject has `subject_has`, waiting up to `wait` seconds:
    "email me a link" answers first and queues the email just after the response."""
    found: list[dict[str, str]] = []

    def look() -> bool:
        for email in client.get("/dev/mail.json").json():
            if email["to"] == to and subject_has.lower() in email["subject"].lower():
                found.append(dict(email))
                return True
        return False

    if wait_until(look, timeout=wait, interval=0.05):
        return found[0]
    raise AssertionError(f"no email to {to} containing {subject_has!r}")


def token_in(email: dict[str, str]) -> str:
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", email["text"])
    assert match, "no link with a token in the email"
    return match.group(1)


def code_in(email: dict[str, str]) -> str:
    """The 6-digit sign-in code of a sign-in email (on a line of its own)."""
    match = re.search(r"^\s*([0-9]{6})\s*$", email["text"], re.MULTILINE)
    assert match, "no sign-in code in the email"
    return match.group(1)


class SessionBody(TypedDict):
    id: int
    expiry: str
    long_lived: bool


class AuthBody(TypedDict):
    """The contract's auth result."""

    user_id: int
    username: str
    session: SessionBody


def sign_up(client: httpx.Client, username: str, email: str | None = None, password: str = PASSWORD) -> AuthBody:
    """Sign up and confirm through the API; the client ends up signed in. Returns the auth result."""
    email = email or f"{username}@example.com"
    response = client.post(
        "/v1/signup", json={"email": email, "username": username, "password": password, "name": username.title()}
    )
    assert response.status_code == 202, response.text
    token = token_in(latest_email(client, email, "confirm"))
    confirmed = client.post("/v1/signup/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    body: AuthBody = confirmed.json()
    return body


def log_in(client: httpx.Client, user: str, password: str = PASSWORD, remember: bool = False) -> httpx.Response:
    return client.post("/v1/login", json={"user": user, "password": password, "remember_device": remember})


# --- the contract's shapes ------------------------------------------------------------------------

RFC3339_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")


def unique(prefix: str = "u") -> str:
    """A fresh valid username (also the local part of the user's email)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def error_code(response: httpx.Response, status: int) -> str:
    """Check the status and the error shape `{"error": {"code", "message"}}`; return the code."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    code, message = body["error"]["code"], body["error"]["message"]
    assert isinstance(code, str) and re.fullmatch(r"[a-z]+(_[a-z]+)*", code), code
    assert isinstance(message, str) and message.strip(), body
    return code


def utc_time(value: object) -> datetime:
    """An RFC 3339 UTC time written with `Z`, as a datetime."""
    assert isinstance(value, str) and RFC3339_Z.fullmatch(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def check_auth_result(body: dict[str, object], username: str, *, long_lived: bool) -> int:
    """`{"user_id","username","session":{"id","expiry","long_lived"}}`; returns the session id."""
    assert set(body) == {"user_id", "username", "session"}, body
    assert isinstance(body["user_id"], int) and body["username"] == username
    session = body["session"]
    assert isinstance(session, dict) and set(session) == {"id", "expiry", "long_lived"}, session
    assert isinstance(session["id"], int) and session["long_lived"] is long_lived
    utc_time(session["expiry"])
    return session["id"]


@dataclass(frozen=True)
class SetCookie:
    name: str
    value: str
    attributes: dict[str, str]  # lower-cased attribute name -> value ("" for flags)

    @property
    def expires(self) -> datetime | None:
        raw = self.attributes.get("expires")
        return parsedate_to_datetime(raw) if raw else None


def set_cookies(response: httpx.Response) -> dict[str, SetCookie]:
    """The response's Set-Cookie headers by cookie name (each name must appear once)."""
    found: dict[str, SetCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *rest = (part.strip() for part in header.split(";"))
        name, _, value = first.partition("=")
        attributes = {}
        for part in rest:
            key, _, attr_value = part.partition("=")
            attributes[key.strip().lower()] = attr_value.strip()
        assert name not in found, f"{name} set twice"
        found[name] = SetCookie(name, value.strip('"'), attributes)
    return found


def run_async(main: Callable[[], Coroutine[object, object, T]]) -> T:
    """Run `main()` to completion on an event loop of its own, in a thread of its own: this thread
    may already run a loop (Playwright's sync API, used by the pages tests, keeps one running)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result(timeout=120)


def asgi_request(app: object, method: str, path: str, **kwargs: object) -> httpx.Response:
    """One request to an ASGI app in this process (no lifespan, no server), for what a live server adds nothing to."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

    return run_async(send)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cookie(token: str) -> dict[str, str]:
    """The session cookie as a header (httpx won't send a Secure cookie over http by itself)."""
    return {"Cookie": f"frontdesk-session={token}"}


# --- users and sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    user_id: int
    username: str
    email: str
    password: str = PASSWORD


def make_account(server: LiveServer, *, superuser: bool = False, prefix: str = "u") -> Account:
    """A user created with the library on the server's database (faster than signing up)."""
    username = unique(prefix)
    email = f"{username}@example.com"
    user = service(server).call(
        create_user,
        email=email,
        username=username,
        password=PASSWORD,
        name=username,
        ctx=RequestContext(ip_address="192.0.2.1", user_agent="tests"),
        is_superuser=superuser,
    )
    return Account(user.id, username, email)


@contextmanager
def signed_in(
    server: LiveServer, account: Account, *, remember: bool = False, **client_args: Any
) -> Iterator[httpx.Client]:
    """A browser-like client on the public origin, signed in as `account` (a new cookie session)."""
    with server.client(**client_args) as client:
        response = log_in(client, account.username, account.password, remember)
        assert response.status_code == 200, response.text
        yield client


def create_api_key(client: httpx.Client, account: Account, name: str = "test key") -> dict[str, object]:
    response = client.post("/v1/api-keys", json={"password": account.password, "name": name, "expiry_days": 30})
    assert response.status_code == 201, response.text
    return dict(response.json())


def session_token(client: httpx.Client) -> str:
    token = client.cookies.get("frontdesk-session")
    assert token, "the client has no session cookie"
    return token


def outbox_to(server: LiveServer, address: str) -> list[MailboxEntry]:
    """Every email for `address`, newest first, read from the database (works in production mode too)."""
    entries = service(server).read(lambda db, _deps: list_mailbox(db, limit=500))
    return [e for e in entries if e.to == address]


# --- shared servers -------------------------------------------------------------------------------
#
# A `frontdesk serve` start costs seconds, so the contract tests share one server per backend and
# configuration for the whole test session, each test making its own users. These servers run on
# databases of their own, not the `database_url` fixture's, which other tests empty between tests
# (and whose outbox other tests' mail workers drain).

TRUSTED_PROXY = "127.0.0.2"  # a client bound to this source address is a trusted reverse proxy
ALLOWED_ORIGIN = "https://app.example.test"  # FRONTDESK_ALLOWED_ORIGINS on the default server
STRICT_PUBLIC_URL = "https://auth.example.test"  # the public URL of the production-mode server
FOREIGN_ORIGIN = "https://evil.example.test"

DEFAULT_ENV = {
    "FRONTDESK_TRUSTED_PROXIES": f"{TRUSTED_PROXY}/32",
    "FRONTDESK_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
    # every test connects from 127.0.0.1: per-IP limits are tested on the strict server instead
    "FRONTDESK_EMAILS_PER_IP": "1000000",
    "FRONTDESK_LOGIN_FAILURES_PER_IP": "1000000",
}
# Production mode (no dev mailbox; Secure cookies behind an https public URL), SMTP pointing at a
# closed loopback port, and small limits so rate limiting shows within a few requests.
STRICT_ENV = {
    "FRONTDESK_ENV": "production",
    "FRONTDESK_SECRET": "test-secret-" + "x" * 40,
    "FRONTDESK_SMTP_URL": "smtp://127.0.0.1:1",
    "FRONTDESK_PUBLIC_URL": STRICT_PUBLIC_URL,
    "FRONTDESK_TRUSTED_PROXIES": f"{TRUSTED_PROXY}/32",
    "FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT": "3",
    "FRONTDESK_LOGIN_FAILURES_PER_IP": "5",
    "FRONTDESK_EMAILS_PER_ADDRESS": "2",
    "FRONTDESK_EMAILS_PER_IP": "1000000",
    "FRONTDESK_METRICS_TOKEN": "test-metrics-token-" + "m" * 24,
}
CONFIGS = {"default": DEFAULT_ENV, "strict": STRICT_ENV}

_databases: dict[tuple[str, str], str] = {}
_services: dict[str, Frontdesk] = {}
_servers: dict[tuple[str, str, int], LiveServer] = {}


def contract_database(request: pytest.FixtureRequest, backend: str, config: str) -> str:
    """A migrated database for the shared servers of one backend and configuration (one per test session).

    Configurations get databases of their own, so the strict server's small per-IP limits never
    count what tests of the default server did from the same loopback address.
    """
    if (backend, config) in _databases:
        return _databases[backend, config]
    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    url, drop = throwaway_database(backend, factory.mktemp("web-db"), prefix="frontdesk_web")
    request.config.add_cleanup(drop)
    fd = Frontdesk(fast_settings(url))
    request.config.add_cleanup(fd.close)  # cleanups run last-in first-out: closed before the drop
    _services[url] = fd
    _databases[backend, config] = url
    return url


def shared_server(
    request: pytest.FixtureRequest, backend: str, config: str = "default", instance: int = 0
) -> LiveServer:
    """The session's server for (backend, configuration); `instance` > 0 adds processes on the same database."""
    key = (backend, config, instance)
    server = _servers.get(key)
    if server is None:
        url = contract_database(request, backend, config)
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        server = start_server(url, factory.mktemp(f"server-{backend}-{config}"), extra_env=CONFIGS[config])
        request.config.add_cleanup(server.stop_now)
        _servers[key] = server
    assert server.process.poll() is None, f"the shared server died:\n{server.log()}"
    return server


def service(server: LiveServer) -> Frontdesk:
    """The library on a shared server's database, for what the API can't do (superusers, deletion)."""
    return _services[server.database_url]
