"""One way in (`web/authn.py`): every Cookie header is read, and two session cookies are refused on
/v1/verify (fast path and framework route), an API route, /account and the library; the verify
answer is the same on both routes, for HEAD and for a database outage, through `frontdesk serve`."""

# No `from __future__ import annotations`: FastAPI must evaluate the library endpoint's annotations.
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from frontdesk import FrontdeskAuth, Principal, Settings
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from frontdesk.web.authn import (
    COOKIE_AND_HEADER,
    TWO_AUTHORIZATION_HEADERS,
    TWO_SESSION_COOKIES,
    Credential,
    has_session_cookie,
    identify,
    identify_fast,
    read_credential,
)
from tests.databases import admin_engine, throwaway_database
from tests.factories import make_session, make_user
from tests.fast import fast_settings
from tests.live import LiveServer, start_server
from tests.waiting import wait_until
from tests.web.helpers import (
    DEFAULT_ENV,
    PASSWORD,
    asgi_request,
    contract_database,
    error_code,
    log_in,
    make_account,
    run_async,
    session_token,
    shared_server,
    signed_in,
)

Raw = list[tuple[bytes, bytes]]
TOKEN_A = "a" * 43
TOKEN_B = "b" * 43
A = f"frontdesk-session={TOKEN_A}"
B = f"frontdesk-session={TOKEN_B}"


def raw(*headers: tuple[str, str]) -> Raw:
    return [(name.lower().encode(), value.encode()) for name, value in headers]


# --- reading -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], None),
        ([("cookie", "other=1")], None),
        ([("cookie", f"frontdesk-session={TOKEN_A}")], Credential(TOKEN_A, "cookie")),
        ([("cookie", "x=1"), ("cookie", f"frontdesk-session={TOKEN_A}")], Credential(TOKEN_A, "cookie")),
        ([("cookie", A), ("cookie", A)], Credential(TOKEN_A, "cookie")),
        ([("cookie", A), ("cookie", B)], TWO_SESSION_COOKIES),
        ([("cookie", f"{A}; {B}")], TWO_SESSION_COOKIES),
        ([("cookie", f"a=1; frontdesk-session = {TOKEN_A}"), ("cookie", f"{B}; b=2")], TWO_SESSION_COOKIES),
        ([("cookie", f"frontdesk-session={TOKEN_A}"), ("authorization", "Bearer x")], COOKIE_AND_HEADER),
        ([("authorization", "Bearer x"), ("authorization", "Bearer y")], TWO_AUTHORIZATION_HEADERS),
        ([("authorization", "Bearer fdk_x")], Credential("fdk_x", "bearer")),
        ([("authorization", "Basic dXNlcjpwYXNz")], Credential("", "bearer")),
        ([("cookie", "frontdesk-session=" + "x" * 513)], Credential("", "cookie")),
    ],
    ids=[
        "nothing", "other-cookie", "one-cookie", "cookie-in-second-header", "same-value-twice",
        "split-across-headers", "two-in-one-header", "split-with-spaces", "cookie-and-bearer",
        "two-authorization", "bearer", "basic", "over-long",
    ],
)  # fmt: skip
def test_every_cookie_header_is_read(headers: list[tuple[str, str]], expected: object) -> None:
    assert read_credential(raw(*headers)) == expected


def test_pages_read_cookies_only() -> None:
    headers = raw(("cookie", f"frontdesk-session={TOKEN_A}"), ("authorization", "Basic dXNlcjpwYXNz"))
    assert read_credential(headers, bearer=False) == Credential(TOKEN_A, "cookie")
    split = raw(("cookie", f"frontdesk-session={TOKEN_A}"), ("cookie", f"frontdesk-session={TOKEN_B}"))
    assert read_credential(split, bearer=False) is TWO_SESSION_COOKIES


def test_the_csrf_check_sees_a_session_cookie_in_any_header() -> None:
    assert has_session_cookie(raw(("cookie", "a=1"), ("cookie", "frontdesk-session=x")))
    assert has_session_cookie(raw(("cookie", "frontdesk-session =")))
    assert not has_session_cookie(raw(("cookie", "frontdesk-session-other=x"), ("authorization", "Bearer x")))


def test_the_refusal_says_which_case_it_is() -> None:
    assert "two different frontdesk-session cookies" in TWO_SESSION_COOKIES.message
    assert "Authorization" not in TWO_SESSION_COOKIES.message
    assert "both a frontdesk-session cookie and an Authorization header" in COOKIE_AND_HEADER.message
    with pytest.raises(dataclasses.FrozenInstanceError):  # shared by every request: fixed
        TWO_SESSION_COOKIES.message = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        ("bearer fdk_x", Credential("fdk_x", "bearer")),  # the scheme in any case
        ("BEARER  fdk_x ", Credential("fdk_x", "bearer")),
        ("Bearer " + "k" * 512, Credential("k" * 512, "bearer")),  # the longest token read
        ("Bearer " + "k" * 513, Credential("", "bearer")),
        ("Bearer ", Credential("", "bearer")),
        ("Bearer", Credential("", "bearer")),
        ("Bearer fdk_x fdk_y", Credential("", "bearer")),
        ("Token fdk_x", Credential("", "bearer")),
    ],
)
def test_a_bearer_token_is_read_strictly(authorization: str, expected: Credential) -> None:
    assert read_credential(raw(("authorization", authorization))) == expected


def test_cookie_values_at_and_over_the_length_limit_and_empty() -> None:
    assert read_credential(raw(("cookie", "frontdesk-session=" + "c" * 512))) == Credential("c" * 512, "cookie")
    assert read_credential(raw(("cookie", "frontdesk-session=" + "c" * 513))) == Credential("", "cookie")
    assert read_credential(raw(("cookie", "frontdesk-session="))) is None  # an empty cookie: anonymous
    assert read_credential(raw(("cookie", "frontdesk-sessions=x; xfrontdesk-session=y"))) is None


def test_a_credential_says_its_kind_and_hides_its_token() -> None:
    assert Credential(TOKEN_A, "bearer").is_api_key and not Credential(TOKEN_A, "cookie").is_api_key
    assert TOKEN_A not in repr(Credential(TOKEN_A, "cookie"))
    assert not has_session_cookie(raw(("authorization", "Bearer frontdesk-session=x")))
    credential = Credential(TOKEN_A, "cookie")
    with pytest.raises(dataclasses.FrozenInstanceError):
        credential.token = TOKEN_B  # type: ignore[misc]


@pytest.mark.parametrize("name", ["accept", "authorization", "x-note", "cookie2"])
def test_only_cookie_headers_carry_session_cookies(name: str) -> None:
    """A header named otherwise carries no cookie, whatever its value looks like."""
    headers = raw((name, f"frontdesk-session={TOKEN_A}"))
    assert not has_session_cookie(headers)
    assert read_credential(headers, bearer=False) is None
    if name != "authorization":  # nor a bearer token
        assert read_credential(headers) is None
        assert read_credential(raw((name, "Bearer fdk_x"))) is None


def test_two_session_cookies_are_refused_in_either_order_and_lookalikes_are_no_cookie() -> None:
    assert read_credential(raw(("cookie", B), ("cookie", A))) is TWO_SESSION_COOKIES
    assert read_credential(raw(("cookie", f"{B}; {A}"))) is TWO_SESSION_COOKIES
    lookalike = raw(("cookie", "analytics=frontdesk-session; a=frontdesk-session=x"))
    assert not has_session_cookie(lookalike)
    assert read_credential(lookalike) is None


def test_the_same_authorization_header_twice_is_read_once() -> None:
    twice = raw(("authorization", "Bearer fdk_x"), ("authorization", "Bearer fdk_x"))
    assert read_credential(twice) == Credential("fdk_x", "bearer")
    assert read_credential(raw(("authorization", "Bearer fdk_y"), ("authorization", "Bearer fdk_x"))) is (
        TWO_AUTHORIZATION_HEADERS
    )


def test_identify_looks_up_the_session_of_the_kind_presented(fd: Frontdesk) -> None:
    user = make_user(fd)
    browser = make_session(fd, user)
    key = make_session(fd, user, is_api_key=True, long_lived=True)
    found = identify(fd, raw(("cookie", f"frontdesk-session={browser.token}")))
    assert isinstance(found, Principal) and (found.user_id, found.session_id) == (user.id, browser.session.id)
    found = identify(fd, raw(("authorization", f"Bearer {key.token}")))
    assert isinstance(found, Principal) and found.session_id == key.session.id
    assert identify(fd, raw(("authorization", f"Bearer {browser.token}"))) is None  # a cookie's token as a key
    assert identify(fd, raw(("cookie", f"frontdesk-session={key.token}"))) is None
    assert identify(fd, raw(("authorization", f"Bearer {key.token}")), bearer=False) is None  # pages: cookies only
    assert identify(fd, raw(("authorization", "Bearer"))) is None
    assert identify(fd, raw(("cookie", A), ("cookie", B))) is TWO_SESSION_COOKIES
    assert identify(fd, []) is None


def test_the_fast_path_reads_alike_and_needs_its_async_lookup(fd: Frontdesk) -> None:
    # none of these reaches a lookup
    # (run_async: a loop of its own in a thread of its own, whatever loop an earlier test left running here)
    assert run_async(lambda: identify_fast(fd, raw(("cookie", A), ("cookie", B)))) is TWO_SESSION_COOKIES
    assert run_async(lambda: identify_fast(fd, raw(("authorization", "Basic x")))) is None
    assert run_async(lambda: identify_fast(fd, [])) is None
    browser = make_session(fd, make_user(fd))

    async def look_up() -> object:
        try:
            return await identify_fast(fd, raw(("cookie", f"frontdesk-session={browser.token}")))
        finally:
            await fd.close_async()

    if fd.verify_lookup is None:  # SQLite
        with pytest.raises(RuntimeError, match="PostgreSQL"):
            run_async(look_up)
    else:
        found = run_async(look_up)
        assert isinstance(found, Principal) and found.session_id == browser.session.id


# --- through a server ----------------------------------------------------------------------------

FRAMEWORK_ENV = {**DEFAULT_ENV, "FRONTDESK_VERIFY_CONNECTIONS": "0"}  # PostgreSQL without the fast path
_framework_servers: dict[str, LiveServer] = {}


def framework_server(request: pytest.FixtureRequest) -> LiveServer:
    """`frontdesk serve` on the default PostgreSQL server's database, with the fast path off."""
    url = contract_database(request, "postgresql", "default")
    server = _framework_servers.get(url)
    if server is None:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        server = start_server(url, factory.mktemp("server-framework"), extra_env=FRAMEWORK_ENV)
        started = server

        def stop() -> None:
            started.stop()

        request.config.add_cleanup(stop)
        _framework_servers[url] = server
    return server


@pytest.fixture(scope="module", params=["sqlite", "postgresql-fast", "postgresql-framework"])
def server(request: pytest.FixtureRequest) -> LiveServer:
    if request.param == "postgresql-framework":
        return framework_server(request)
    return shared_server(request, request.param.split("-")[0])


def two_cookies(first: str, second: str) -> list[tuple[str, str]]:
    """Two session cookies in two Cookie headers (one "tossed" for a parent domain, say)."""
    return [("Cookie", f"frontdesk-session={first}"), ("Cookie", f"frontdesk-session={second}")]


@pytest.fixture
def tokens(server: LiveServer) -> tuple[str, str]:
    """Two valid session tokens of two users."""
    found = []
    for _ in range(2):
        with signed_in(server, make_account(server)) as browser:
            found.append(session_token(browser))
    return found[0], found[1]


def test_two_session_cookies_in_two_headers_are_refused_on_verify(server: LiveServer, tokens: tuple[str, str]) -> None:
    with httpx.Client(base_url=server.url) as proxy:
        assert proxy.get("/v1/verify", headers=[("Cookie", f"frontdesk-session={tokens[0]}")]).status_code == 200
        for headers in (
            two_cookies(*tokens),
            [("Cookie", f"frontdesk-session={tokens[0]}; frontdesk-session={tokens[1]}")],
        ):
            response = proxy.get("/v1/verify", headers=headers)
            assert error_code(response, 401) == "ambiguous_credentials"
            assert "two different frontdesk-session cookies" in response.json()["error"]["message"]
            assert not any(name.startswith("x-frontdesk-") for name in response.headers)
            head = proxy.head("/v1/verify", headers=headers)
            assert head.status_code == 401 and head.content == b""


def test_two_session_cookies_in_two_headers_are_refused_on_an_api_route(
    server: LiveServer, tokens: tuple[str, str]
) -> None:
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/v1/sessions", headers=[("Cookie", f"frontdesk-session={tokens[0]}")]).status_code == 200
        response = client.get("/v1/sessions", headers=two_cookies(*tokens))
        assert error_code(response, 401) == "ambiguous_credentials"
        assert "Authorization" not in response.json()["error"]["message"]
        assert error_code(client.get("/v1/session", headers=two_cookies(*tokens)), 401) == "ambiguous_credentials"


def test_two_session_cookies_in_two_headers_are_refused_on_the_account_page(
    server: LiveServer, tokens: tuple[str, str]
) -> None:
    with httpx.Client(base_url=server.url) as browser:
        assert browser.get("/account", headers=[("Cookie", f"frontdesk-session={tokens[0]}")]).status_code == 200
        response = browser.get("/account", headers=two_cookies(*tokens))
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/html")
        assert "two different frontdesk-session cookies" in response.text
        assert response.headers["cache-control"] == "no-store"


def cleared(response: httpx.Response) -> bool:
    """Whether the response clears the session cookie (`Max-Age=0`)."""
    return any(
        h.startswith('frontdesk-session=""') and "Max-Age=0" in h for h in response.headers.get_list("set-cookie")
    )


def test_logout_with_two_session_cookies_ends_neither_but_clears_the_cookies(
    server: LiveServer, tokens: tuple[str, str]
) -> None:
    with httpx.Client(base_url=server.url, headers={"Origin": server.url}) as browser:
        api = browser.post("/v1/logout", headers=two_cookies(*tokens))
        assert api.status_code == 204 and cleared(api)
        page = browser.post("/logout", headers=two_cookies(*tokens), follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?notice=signed-out"
        assert cleared(page)
        for token in tokens:  # which one was this browser's can't be told: neither is ended
            assert browser.get("/v1/verify", headers={"Cookie": f"frontdesk-session={token}"}).status_code == 200


def test_two_session_cookies_in_two_headers_are_refused_by_the_library(
    server: LiveServer, tokens: tuple[str, str]
) -> None:
    auth = FrontdeskAuth(Settings(database_url=server.database_url))
    app = FastAPI()
    auth.install(app)

    @app.get("/me")
    def me(user: Annotated[Principal, Depends(auth.require_user)]) -> dict[str, int]:
        return {"user_id": user.user_id}

    try:
        assert (
            asgi_request(app, "GET", "/me", headers=[("Cookie", f"frontdesk-session={tokens[0]}")]).status_code == 200
        )
        refused = asgi_request(app, "GET", "/me", headers=two_cookies(*tokens))
        assert error_code(refused, 401) == "ambiguous_credentials"
        assert "two different frontdesk-session cookies" in refused.json()["error"]["message"]
    finally:
        auth.close()


def test_head_verify_answers_as_get(server: LiveServer, tokens: tuple[str, str]) -> None:
    with httpx.Client(base_url=server.url) as proxy:
        for headers in ([("Cookie", f"frontdesk-session={tokens[0]}")], [], [("Cookie", "frontdesk-session=nope")]):
            get = proxy.get("/v1/verify", headers=headers)
            head = proxy.head("/v1/verify", headers=headers)
            assert head.status_code == get.status_code in (200, 401)
            assert head.content == b""
            assert without_date(head.headers) == without_date(get.headers)


def without_date(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("date", "server")}


# --- a database outage ---------------------------------------------------------------------------


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A migrated PostgreSQL database of this test's own (it will refuse connections for a while)."""
    url, drop = throwaway_database("postgresql", tmp_path, prefix="frontdesk_outage")
    name = str(make_url(url).database)
    try:
        yield name, url
    finally:
        set_outage(name, down=False)
        drop()


def set_outage(name: str, down: bool) -> None:
    """Refuse (or allow again) new connections to the database, ending the open ones."""
    admin = admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {"false" if down else "true"}'))
            if down:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
                )
    finally:
        admin.dispose()


def wait_for(client: httpx.Client, token: str, status: int, timeout: float = 15) -> httpx.Response:
    """Verify until the answer has `status` (or `timeout` passes); the last answer."""

    answers: list[httpx.Response] = []

    def answered() -> bool:
        answers.append(client.get("/v1/verify", headers={"Cookie": f"frontdesk-session={token}"}))
        return answers[-1].status_code == status

    wait_until(answered, timeout, interval=0.1)
    return answers[-1]


def test_a_database_outage_answers_503_with_retry_after_on_both_verify_routes(
    own_postgres: tuple[str, str], tmp_path: Path
) -> None:
    name, url = own_postgres
    fd = Frontdesk(fast_settings(url))
    fd.call(create_user, email="out@example.com", username="outage", password=PASSWORD, name="O", ctx=RequestContext())
    fd.close()
    fast = start_server(url, tmp_path, extra_env=DEFAULT_ENV)
    framework = start_server(url, tmp_path, extra_env=FRAMEWORK_ENV)
    try:
        with fast.client() as browser:
            assert log_in(browser, "outage").status_code == 200
            token = session_token(browser)
        answers: dict[str, tuple[httpx.Response, httpx.Response]] = {}
        clients = {
            "fast": httpx.Client(base_url=fast.url, timeout=20),
            "framework": httpx.Client(base_url=framework.url, timeout=20),
        }
        for client in clients.values():
            assert wait_for(client, token, 200).status_code == 200
        set_outage(name, down=True)
        try:
            for route, client in clients.items():
                get = wait_for(client, token, 503)
                head = client.head("/v1/verify", headers={"Cookie": f"frontdesk-session={token}"})
                answers[route] = (get, head)
        finally:
            set_outage(name, down=False)
        for route, (get, head) in answers.items():
            assert error_code(get, 503) == "service_unavailable", route
            assert get.headers["retry-after"] == "5", route
            assert head.status_code == 503 and head.headers["retry-after"] == "5" and head.content == b"", route
        (fast_get, fast_head), (framework_get, framework_head) = answers["fast"], answers["framework"]
        assert fast_get.json() == framework_get.json()
        assert without_date(fast_get.headers) == without_date(framework_get.headers)
        assert without_date(fast_head.headers) == without_date(framework_head.headers)
        for client in clients.values():  # and back once the database answers
            assert wait_for(client, token, 200).status_code == 200
            client.close()
    finally:
        fast.stop()
        framework.stop()
