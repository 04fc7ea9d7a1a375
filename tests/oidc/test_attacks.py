"""Attacks on the callback, against the real provider: each is refused and changes nothing
(no account, no identity, no session; the flow it used is ended)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from frontdesk.models import AuthEvent, Identity, OAuthFlow, User, UserSession
from frontdesk.oidc_settings import parse_providers
from frontdesk.runtime import Frontdesk
from frontdesk.web.app import create_app
from tests.factories import make_user
from tests.live import free_port
from tests.oidc.journey import authorize, callback, query_of, start, with_query
from tests.oidc.tamper import TamperProxy, new_key


def count(fd: Frontdesk, model: type[User] | type[Identity] | type[UserSession]) -> int:
    with fd.factory() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def refusals(fd: Frontdesk) -> list[str]:
    with fd.factory() as db:
        rows = db.scalars(select(AuthEvent.detail).where(AuthEvent.event == "oauth.refused").order_by(AuthEvent.id))
        return [str(r) for r in rows]


def assert_refused(answer: httpx.Response, frontdesk: httpx.Client, status: int = 400) -> None:
    assert answer.status_code == status, answer.text
    assert "Nothing was changed" in answer.text
    assert "frontdesk-session" not in answer.headers.get("set-cookie", "")
    assert frontdesk.get("/v1/session").json()["logged_in"] is False


def assert_nothing_made(fd: Frontdesk) -> None:
    assert (count(fd, User), count(fd, Identity), count(fd, UserSession)) == (0, 0, 0)


def test_an_unknown_state_is_refused(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    url = authorize(provider_browser, start(frontdesk), "mallory")
    assert_refused(callback(frontdesk, with_query(url, state="not-the-state")), frontdesk)
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == ["corp:unknown_or_used_state"]


def test_a_used_state_is_refused(frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk) -> None:
    url = authorize(provider_browser, start(frontdesk), "alice")
    assert callback(frontdesk, url).status_code == 302
    frontdesk.post("/v1/logout")
    before = (count(social_fd, User), count(social_fd, Identity), count(social_fd, UserSession))
    assert_refused(callback(frontdesk, url), frontdesk)
    assert (count(social_fd, User), count(social_fd, Identity), count(social_fd, UserSession)) == before


def test_a_callback_in_a_browser_without_the_binding_cookie_is_refused_and_ends_the_flow(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    url = authorize(provider_browser, start(frontdesk), "victim")
    binding = frontdesk.cookies.get("frontdesk-oauth")
    assert binding
    frontdesk.cookies.clear()  # another browser: the attacker's link opened by someone else
    assert_refused(callback(frontdesk, url), frontdesk)
    frontdesk.cookies.set("frontdesk-oauth", binding, domain="127.0.0.1", path="/v1/oauth/corp/callback")
    assert_refused(callback(frontdesk, url), frontdesk)  # the refusal ended the flow
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == ["corp:browser_binding", "corp:unknown_or_used_state"]


def test_a_callback_for_another_provider_than_the_flow_began_with_is_refused(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    url = authorize(provider_browser, start(frontdesk, "corp"), "alice")
    assert_refused(callback(frontdesk, url.replace("/oauth/corp/", "/oauth/trusted/")), frontdesk)
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == ["trusted:wrong_provider"]


def test_a_nonce_that_is_not_the_flows_is_refused(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    url = authorize(provider_browser, start(frontdesk), "alice")
    with social_fd.factory.begin() as db:  # the ID token will carry a nonce this flow never made
        db.execute(update(OAuthFlow).values(nonce_hash=b"\x00" * 32))
    assert_refused(callback(frontdesk, url), frontdesk)
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == ["corp:nonce_mismatch"]


@pytest.mark.parametrize(
    ("iss", "reason"), [("https://other-provider.example.com", "iss_mismatch"), (None, "iss_missing")]
)
def test_an_authorization_response_naming_another_issuer_or_none_is_refused(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk, iss: str | None, reason: str
) -> None:
    """Mix-up (RFC 9207): this provider promises `iss`, so another one's, or none, is refused."""
    url = authorize(provider_browser, start(frontdesk), "alice")
    assert query_of(url)["iss"]
    assert_refused(callback(frontdesk, with_query(url, iss=iss)), frontdesk)
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == [f"corp:{reason}"]


def test_a_replayed_code_is_refused(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    first = authorize(provider_browser, start(frontdesk), "alice")
    assert callback(frontdesk, first).status_code == 302
    frontdesk.post("/v1/logout")
    sessions = count(social_fd, UserSession)
    # a fresh flow of this browser, answered with the code already used
    second = authorize(provider_browser, start(frontdesk), "alice")
    assert_refused(callback(frontdesk, with_query(second, code=query_of(first)["code"])), frontdesk)
    assert count(social_fd, UserSession) == sessions and count(social_fd, User) == 1
    assert refusals(social_fd)[-1].startswith("corp:code_rejected")


def test_consent_refused_at_the_provider_shows_a_page(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    url = authorize(provider_browser, start(frontdesk), "alice")
    assert_refused(callback(frontdesk, with_query(url, code=None, error="access_denied")), frontdesk)
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == ["corp:provider_access_denied"]


def test_an_unverified_email_matching_an_account_neither_links_nor_signs_in(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    owner = make_user(social_fd, username="erin", email="erin@example.com")
    sessions = count(social_fd, UserSession)
    # even a provider trusted for email: the provider did not verify this one
    answer = callback(frontdesk, authorize(provider_browser, start(frontdesk, "trusted"), "erin-unverified"))
    assert answer.status_code == 200 and "did not confirm" in answer.text
    assert frontdesk.get("/v1/session").json()["logged_in"] is False
    assert count(social_fd, Identity) == 0 and count(social_fd, UserSession) == sessions
    assert count(social_fd, User) == 1 and owner.id


def test_a_verified_email_from_an_untrusted_provider_asks_to_sign_in_and_link(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    make_user(social_fd, username="frank", email="frank@example.com")
    sessions = count(social_fd, UserSession)
    answer = callback(frontdesk, authorize(provider_browser, start(frontdesk, "corp"), "frank"))
    assert answer.status_code == 200
    assert "sign in to that account the usual way, then link Corp" in answer.text
    assert frontdesk.get("/v1/session").json()["logged_in"] is False
    assert count(social_fd, Identity) == 0 and count(social_fd, UserSession) == sessions
    assert count(social_fd, User) == 1


def test_an_unknown_provider_is_not_found(frontdesk: httpx.Client) -> None:
    assert frontdesk.get("/v1/oauth/nope/start").status_code == 404
    assert frontdesk.get("/v1/oauth/nope/callback?state=x&code=y").status_code == 404


def test_a_provider_that_does_not_answer_gives_a_page_not_a_500(social_fd: Frontdesk) -> None:
    """An outage (nothing listens at the issuer): a 502 page and a log line, no flow, no 500."""
    env = {
        "FRONTDESK_OIDC_PROVIDERS": "down",
        "FRONTDESK_OIDC_DOWN_ISSUER": f"http://127.0.0.1:{free_port()}",
        "FRONTDESK_OIDC_DOWN_CLIENT_ID": "x",
        "FRONTDESK_OIDC_DOWN_CLIENT_SECRET": "y",
    }
    app = create_app(frontdesk=social_fd, send_mail=False, oidc_providers=parse_providers(env))
    transport = httpx.ASGITransport(app=app)

    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            return await client.get("/v1/oauth/down/start")

    answer = asyncio.run(run())
    assert answer.status_code == 502 and "not answering" in answer.text
    with social_fd.factory() as db:
        assert db.scalar(select(func.count()).select_from(OAuthFlow)) == 0


# --- ID tokens tampered with between the provider and frontdesk (tests/oidc/tamper.py) ----------


def _now() -> int:
    return int(time.time())


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://another-provider.example.com"}, "id_token_iss"),
        ({"aud": "another-client"}, "id_token_aud"),
        ({"exp": "past", "iat": "earlier"}, "id_token_exp"),
    ],
    ids=["wrong-iss", "wrong-aud", "expired"],
)
def test_an_id_token_with_a_wrong_claim_is_refused(
    tampered: httpx.Client,
    provider_browser: httpx.Client,
    social_fd: Frontdesk,
    tamper: TamperProxy,
    changes: dict[str, Any],
    reason: str,
) -> None:
    """Signed with a key the JWKS publishes, so only the claim is wrong."""
    if changes.get("exp") == "past":  # expired five minutes ago (beyond the 60 s of skew), issued before
        changes = {"exp": _now() - 300, "iat": _now() - 400}
    tamper.tamper = tamper.resign(**changes)
    assert_refused(callback(tampered, authorize(provider_browser, start(tampered), "mallory")), tampered)
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == [f"corp:{reason}"]


def test_an_id_token_whose_payload_was_changed_under_its_signature_is_refused(
    tampered: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk, tamper: TamperProxy
) -> None:
    tamper.tamper = tamper.alter_payload(sub="someone-else", email="victim@example.com")
    assert_refused(callback(tampered, authorize(provider_browser, start(tampered), "mallory")), tampered)
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == ["corp:id_token_signature"]


def test_an_id_token_signed_by_a_key_the_provider_does_not_publish_is_refused(
    tampered: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk, tamper: TamperProxy
) -> None:
    tamper.tamper = tamper.resign(key=new_key("not-published"))
    assert_refused(callback(tampered, authorize(provider_browser, start(tampered), "mallory")), tampered)
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == ["corp:id_token_unknown_key"]
    assert tamper.jwks_fetches == 2  # the unknown key made frontdesk fetch the JWKS again, once


def test_a_rotated_signing_key_is_fetched_and_accepted(
    tampered: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk, tamper: TamperProxy
) -> None:
    """The provider starts signing with a new key (published with the old ones): frontdesk, which
    cached the JWKS at the first sign-in, fetches it again when a token names the new key."""
    assert callback(tampered, authorize(provider_browser, start(tampered), "rosa")).status_code == 302
    assert tampered.post("/v1/logout").status_code == 204
    rotated = new_key("rotated")
    tamper.published = [tamper.key, rotated]
    tamper.tamper = tamper.resign(key=rotated)
    answer = callback(tampered, authorize(provider_browser, start(tampered), "rosa"))
    assert answer.status_code == 302, answer.text
    assert tampered.get("/v1/session").json()["username"] == "rosa"
    assert tamper.jwks_fetches == 2 and refusals(social_fd) == []


def test_a_token_endpoint_in_an_outage_gives_a_page_and_a_log_line_not_a_500(
    tampered: httpx.Client,
    provider_browser: httpx.Client,
    social_fd: Frontdesk,
    tamper: TamperProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = authorize(provider_browser, start(tampered), "alice")
    tamper.fail_token = True
    with caplog.at_level("WARNING", logger="frontdesk.web.api.oauth"):
        answer = callback(tampered, url)
    assert_refused(answer, tampered, status=502)
    assert "not answering" in answer.text
    assert_nothing_made(social_fd)
    assert refusals(social_fd) == ["corp:token_status_503"]
    failed = [r for r in caplog.records if r.getMessage() == "oauth.failed"]
    assert [(r.__dict__["provider"], r.__dict__["reason"]) for r in failed] == [("corp", "token_status_503")]
    assert frontdesk_metric(tampered, "corp", "token_status_503") >= 1


def frontdesk_metric(client: httpx.Client, provider: str, outcome: str) -> float:
    """The value of frontdesk_social_sign_ins_total{provider, outcome} on /metrics (0 when absent)."""
    text = client.get("/metrics").text
    line = f'frontdesk_social_sign_ins_total{{outcome="{outcome}",provider="{provider}"}}'
    values = [float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)]
    return values[0] if values else 0.0


def test_metrics_count_callbacks_by_provider_and_outcome(
    frontdesk: httpx.Client, provider_browser: httpx.Client
) -> None:
    def counts() -> tuple[float, float]:
        return frontdesk_metric(frontdesk, "corp", "signed_in"), frontdesk_metric(
            frontdesk, "corp", "unknown_or_used_state"
        )

    before = counts()
    url = authorize(provider_browser, start(frontdesk), "olga")
    assert callback(frontdesk, url).status_code == 302
    assert callback(frontdesk, url).status_code == 400  # used again
    assert counts() == (before[0] + 1, before[1] + 1)


def test_the_providers_code_and_tokens_reach_neither_the_browser_the_logs_nor_the_database(
    tampered: httpx.Client,
    provider_browser: httpx.Client,
    social_fd: Frontdesk,
    tamper: TamperProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def keep(id_token: str) -> str:
        seen.append(id_token)
        return id_token

    tamper.tamper = keep
    url = authorize(provider_browser, start(tampered), "quinn")
    code, state = query_of(url)["code"], query_of(url)["state"]
    with caplog.at_level("DEBUG"):
        answer = callback(tampered, url)
    assert answer.status_code == 302 and len(seen) == 1
    secrets = (code, state, seen[0], seen[0].split(".")[1])
    # frontdesk's own log lines (this test's client logs the callback URL it requests itself)
    logged = [r for r in caplog.records if r.name.split(".")[0] in ("frontdesk", "authlib", "joserfc", "uvicorn")]
    assert logged
    shown = answer.text + str(answer.headers) + "".join(f"{r.getMessage()} {r.__dict__}" for r in logged)
    assert not [s for s in secrets if s in shown]
    with social_fd.factory() as db:
        stored = " ".join(
            str(row)
            for model in (OAuthFlow, AuthEvent, Identity, User, UserSession)
            for row in db.execute(select(model.__table__)).all()
        )
    assert not [s for s in secrets if s in stored]
