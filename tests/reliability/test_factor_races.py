"""Second factors used at once through two `frontdesk serve` processes on one PostgreSQL.

Each secret is sent 50 times at once, the requests split across server A and server B (two
machines behind one load balancer, so both have the same public URL and WebAuthn origin):
one TOTP code, one recovery code, one WebAuthn assertion (a passkey sign-in and a second step)
and one second-factor challenge. Of each race exactly one request succeeds and makes a session.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import Engine

from frontdesk.db import make_engine
from frontdesk.models import OutboxEmail, TotpFactor, UserSession
from frontdesk.settings import Settings
from tests.databases import empty_database
from tests.live import LiveServer
from tests.reliability.conftest import Account, all_at_once, count_rows, new_account, serve
from tests.service.authenticator import SoftAuthenticator
from tests.web.helpers import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

N = 50
JsonObject = dict[str, Any]


@dataclass
class Pair:
    a: LiveServer
    b: LiveServer
    public_url: str
    engine: Engine

    def server(self, i: int) -> LiveServer:
        return (self.a, self.b)[i % 2]

    def client(self, i: int, headers: dict[str, str] | None = None) -> httpx.Client:
        """A browser on the shared public origin, talking to server A (even i) or B (odd i)."""
        return self.server(i).client(headers={"Origin": self.public_url, **(headers or {})})

    def post(self, i: int, path: str, body: JsonObject, headers: dict[str, str] | None = None) -> httpx.Response:
        with self.client(i, headers) as client:
            return client.post(path, json=body)


@pytest.fixture(scope="module")
def pair(postgresql_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    empty_database(postgresql_database_url)
    a = serve(postgresql_database_url, tmp_path_factory.mktemp("factor-server-a"))
    b = serve(postgresql_database_url, tmp_path_factory.mktemp("factor-server-b"), env={"FRONTDESK_PUBLIC_URL": a.url})
    engine = make_engine(Settings(database_url=postgresql_database_url))
    try:
        yield Pair(a, b, a.url, engine)
    finally:
        a.stop()
        b.stop()
        engine.dispose()


def sessions_of(pair: Pair, account: Account) -> int:
    return count_rows(pair.engine, UserSession, UserSession.user_id == account.user_id)


def enrol_totp(pair: Pair, account: Account) -> tuple[pyotp.TOTP, list[str]]:
    began = pair.post(1, "/v1/second-factors/totp", {}, account.cookie_header())
    assert began.status_code == 200, began.text
    app = pyotp.TOTP(began.json()["secret"])
    confirmed = pair.post(0, "/v1/second-factors/totp/confirm", {"totp": app.now()}, account.cookie_header())
    assert confirmed.status_code == 200, confirmed.text
    return app, list(confirmed.json()["recovery_codes"])


def register_key(pair: Pair, account: Account, key: SoftAuthenticator) -> None:
    options = pair.post(0, "/v1/webauthn/registration-options", {}, account.cookie_header())
    assert options.status_code == 200, options.text
    body = {"name": "key", "credential": key.register(options.json()["options"])}
    made = pair.post(1, "/v1/webauthn/credentials", body, account.cookie_header())
    assert made.status_code == 201, made.text


def first_steps(pair: Pair, account: Account, n: int) -> list[str]:
    """`n` open second-factor challenges for the account, from password sign-ins on both servers."""
    challenges = []
    for i in range(n):
        answer = pair.post(i, "/v1/login", {"user": account.username, "password": PASSWORD})
        assert answer.status_code == 202, answer.text
        challenges.append(str(answer.json()["challenge"]))
    return challenges


def outcomes(responses: list[httpx.Response]) -> list[int]:
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses if r.status_code >= 500]
    return sorted(r.status_code for r in responses)


def test_one_totp_code_signs_in_once(pair: Pair) -> None:
    account = new_account(pair.a, "race_totp")
    app, _ = enrol_totp(pair, account)
    challenges = first_steps(pair, account, N)
    before = sessions_of(pair, account)
    when = datetime.now(UTC) + timedelta(seconds=30)  # the next step: the current one confirmed the enrolment
    code, step = app.at(when), app.timecode(when)

    def use(i: int) -> httpx.Response:
        return pair.post(i, "/v1/login/second-factor", {"challenge": challenges[i], "totp": code})

    answers = outcomes(all_at_once(N, use))
    assert answers.count(200) == 1, answers
    assert set(answers) <= {200, 401, 429}, answers  # the losers count against the account's limit
    assert sessions_of(pair, account) == before + 1
    assert count_rows(pair.engine, TotpFactor, TotpFactor.last_used_step == step) == 1


def test_one_recovery_code_signs_in_once(pair: Pair) -> None:
    account = new_account(pair.a, "race_code")
    _, codes = enrol_totp(pair, account)
    challenges = first_steps(pair, account, N)
    before = sessions_of(pair, account)

    def use(i: int) -> httpx.Response:
        return pair.post(i, "/v1/login/second-factor", {"challenge": challenges[i], "recovery_code": codes[0]})

    answers = outcomes(all_at_once(N, use))
    assert answers.count(200) == 1, answers
    assert set(answers) <= {200, 401, 429}, answers
    assert sessions_of(pair, account) == before + 1
    with pair.client(0, account.cookie_header()) as client:
        assert client.get("/v1/second-factors").json()["recovery_codes_left"] == 9
    used = (OutboxEmail.kind == "recovery_code_used", OutboxEmail.to_address == account.email)
    assert count_rows(pair.engine, OutboxEmail, *used) == 1, "one use, one email"


def test_one_webauthn_assertion_works_once(pair: Pair) -> None:
    account = new_account(pair.a, "race_assertion")
    key = SoftAuthenticator(origin=pair.public_url)
    register_key(pair, account, key)

    # a passkey sign-in: one assertion, 50 times
    options = pair.post(1, "/v1/webauthn/authentication-options", {})
    assert options.status_code == 200, options.text
    passkey = key.assertion(options.json()["options"])
    before = sessions_of(pair, account)
    answers = outcomes(all_at_once(N, lambda i: pair.post(i, "/v1/login/passkey", {"credential": passkey})))
    assert answers == [200] + [401] * (N - 1), answers
    assert sessions_of(pair, account) == before + 1

    # a second step: one challenge, one assertion for it, 50 times
    [challenge] = first_steps(pair, account, 1)
    options = pair.post(1, "/v1/webauthn/authentication-options", {"challenge": challenge})
    assert options.status_code == 200, options.text
    body = {"challenge": challenge, "webauthn": key.assertion(options.json()["options"])}
    answers = outcomes(all_at_once(N, lambda i: pair.post(i, "/v1/login/second-factor", body)))
    assert answers.count(200) == 1 and set(answers) <= {200, 400, 401}, answers
    assert sessions_of(pair, account) == before + 2


def test_one_second_factor_challenge_makes_one_session(pair: Pair) -> None:
    """50 different, each valid, answers to one challenge (a synced passkey's zero counter never
    refuses one): the challenge alone decides, and it is used once."""
    account = new_account(pair.a, "race_challenge")
    key = SoftAuthenticator(origin=pair.public_url, counting=False, backup_eligible=True)
    register_key(pair, account, key)
    [challenge] = first_steps(pair, account, 1)
    bodies = []
    for i in range(N):
        options = pair.post(i, "/v1/webauthn/authentication-options", {"challenge": challenge})
        assert options.status_code == 200, options.text
        bodies.append({"challenge": challenge, "webauthn": key.assertion(options.json()["options"])})
    before = sessions_of(pair, account)

    answers = outcomes(all_at_once(N, lambda i: pair.post(i, "/v1/login/second-factor", bodies[i])))
    assert answers.count(200) == 1 and set(answers) <= {200, 400}, answers
    assert sessions_of(pair, account) == before + 1
