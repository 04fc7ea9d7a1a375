"""Second factors, the operations side, through a real server on both databases: the
administrator's reset, the notice emails (read from the development mailbox) and /metrics."""

from __future__ import annotations

import httpx

from tests.live import LiveServer
from tests.web.helpers import (
    bearer,
    create_api_key,
    error_code,
    latest_email,
    log_in,
    make_account,
    signed_in,
)
from tests.web.test_factors import enrol_totp, first_step, next_code, register_key
from tests.web.test_ops import metric

CODES_LEFT = "you have 9 left"


def emails_to(client: httpx.Client, address: str) -> list[dict[str, str]]:
    return [dict(e) for e in client.get("/dev/mail.json").json() if e["to"] == address]


def test_the_admin_reset_removes_every_factor_and_ends_every_session(server: LiveServer) -> None:
    admin, target = make_account(server, superuser=True), make_account(server)
    with signed_in(server, target) as browser:
        app, codes = enrol_totp(browser)
        register_key(browser, server)
        key = str(create_api_key(browser, target)["token"])
        with server.client() as second:
            step = first_step(second, target)
            done = second.post("/v1/login/second-factor", json={"challenge": step["challenge"], "totp": next_code(app)})
            assert done.status_code == 200, done.text
            with signed_in(server, admin) as boss:
                response = boss.post(f"/v1/admin/users/{target.user_id}/reset-second-factors")
                assert response.status_code == 204 and response.content == b""
                assert boss.get("/v1/verify").status_code == 200, "the administrator's own session ended"
            assert second.get("/v1/verify").status_code == 401
        assert browser.get("/v1/verify").status_code == 401
    with httpx.Client(base_url=server.url, headers=bearer(key)) as api:
        assert api.get("/v1/verify").status_code == 401, "an API key survived the reset"
    with server.client() as fresh:
        assert log_in(fresh, target.username).status_code == 200, "the password alone signs in after a reset"
        assert fresh.get("/v1/second-factors").json() == {"totp": False, "webauthn": [], "recovery_codes_left": 0}
        email = latest_email(fresh, target.email, "administrator removed")
        assert "set up two-step verification again" in email["text"]
        assert not any(code in email["text"] + email["html"] for code in codes)


def test_a_refused_reset_changes_nothing(server: LiveServer) -> None:
    user, target = make_account(server), make_account(server)
    with signed_in(server, target) as victim:
        enrol_totp(victim)
        with signed_in(server, user) as other:
            before = len(emails_to(other, target.email))
            path = f"/v1/admin/users/{target.user_id}/reset-second-factors"
            assert error_code(other.post(path), 403) == "forbidden"
            assert victim.get("/v1/second-factors").json()["totp"] is True
            assert victim.get("/v1/verify").status_code == 200
            assert len(emails_to(other, target.email)) == before
    admin = make_account(server, superuser=True)
    with signed_in(server, admin) as boss:
        for user_id in ("0", "-1", "999999999", str(2**63)):
            response = boss.post(f"/v1/admin/users/{user_id}/reset-second-factors")
            assert response.status_code in (400, 404) and response.status_code < 500, (user_id, response.text)
        assert error_code(boss.post("/v1/admin/users/abc/reset-second-factors"), 400) == "invalid_request"
        assert boss.get(f"/v1/admin/users/{target.user_id}/reset-second-factors").status_code == 405


def test_factor_changes_and_recovery_codes_are_emailed(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as client:
        _, codes = enrol_totp(client)
        added = latest_email(client, account.email, "second factor was added")
        assert "an authenticator app was added" in added["text"]
        _, made = register_key(client, server, "Yubi")
        assert latest_email(client, account.email, "second factor was added")["text"].count('("Yubi")') == 1
        assert client.post("/v1/second-factors/recovery-codes").status_code == 200
        latest_email(client, account.email, "new recovery codes")
        assert client.delete(f"/v1/webauthn/credentials/{made['id']}").status_code == 204
        removed = latest_email(client, account.email, "second factor was removed")
        assert '("Yubi")' in removed["text"]
        codes = client.post("/v1/second-factors/recovery-codes").json()["recovery_codes"]
    with server.client() as client:
        step = first_step(client, account)
        done = client.post("/v1/login/second-factor", json={"challenge": step["challenge"], "recovery_code": codes[3]})
        assert done.status_code == 200, done.text
        used = latest_email(client, account.email, "recovery code was used")
        assert CODES_LEFT in used["text"] and CODES_LEFT in used["html"]
        everything = "\n".join(e["text"] + e["html"] for e in emails_to(client, account.email))
        assert not any(code in everything for code in codes)


def test_second_factor_proofs_and_enrolments_are_in_metrics(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as client:
        before = client.get("/metrics").text
    with signed_in(server, account) as client:
        app, _ = enrol_totp(client)
    with server.client() as client:
        step = first_step(client, account)
        wrong = client.post("/v1/login/second-factor", json={"challenge": step["challenge"], "totp": "12345x"})
        assert error_code(wrong, 401) == "invalid_code"
        done = client.post("/v1/login/second-factor", json={"challenge": step["challenge"], "totp": next_code(app)})
        assert done.status_code == 200, done.text
        after = client.get("/metrics").text
    name = "frontdesk_second_factor_verifications_total"
    for outcome in ("success", "invalid_code"):
        assert metric(after, name, method="totp", outcome=outcome) - metric(
            before, name, method="totp", outcome=outcome
        )
    enrolments = "frontdesk_second_factor_enrolments_total"
    assert metric(after, enrolments, method="totp") > metric(before, enrolments, method="totp")
