"""Open endpoints (contract section 3) through a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from frontdesk.service.accounts import delete_user
from frontdesk.service.context import RequestContext
from tests.live import LiveServer
from tests.web.helpers import (
    PASSWORD,
    bearer,
    check_auth_result,
    cookie,
    create_api_key,
    error_code,
    latest_email,
    log_in,
    make_account,
    service,
    session_token,
    set_cookies,
    sign_up,
    signed_in,
    token_in,
    unique,
    utc_time,
)


def newest_email_id(server: LiveServer) -> int:
    with server.client() as client:
        emails = client.get("/dev/mail.json").json()
    return int(emails[0]["id"]) if emails else 0


def emails_to(server: LiveServer, address: str) -> list[dict[str, str]]:
    with server.client() as client:
        return [e for e in client.get("/dev/mail.json").json() if e["to"] == address]


# --- signup -------------------------------------------------------------------------------------


def test_signup_emails_a_link_and_the_user_exists_only_once_it_is_used(server: LiveServer) -> None:
    username = unique("signup")
    email = f"{username}@example.com"
    with server.client() as browser:
        free = browser.get(f"/v1/usernames/{username}")
        assert free.status_code == 200
        assert free.json() == {"username": username, "valid": True, "available": True}
        response = browser.post(
            "/v1/signup", json={"email": email, "username": username, "password": PASSWORD, "name": "Sign Up"}
        )
        assert response.status_code == 202
        assert response.json() == {"status": "verification_sent"}
        assert browser.get(f"/v1/usernames/{username}").json()["available"] is True, "created before confirming"
        assert log_in(browser, username).status_code == 401

        token = token_in(latest_email(browser, email, "confirm"))
        confirmed = browser.post("/v1/signup/confirm", json={"token": token})
        assert confirmed.status_code == 200, confirmed.text
        check_auth_result(confirmed.json(), username, long_lived=False)
        assert browser.cookies.get("frontdesk-session")
        me = browser.get("/v1/session").json()
        assert me["logged_in"] is True and me["username"] == username

        assert browser.get(f"/v1/usernames/{username.upper()}").json()["available"] is False
        assert error_code(browser.post("/v1/signup/confirm", json={"token": token}), 400) == "invalid_token"
    with server.client() as other:
        assert log_in(other, email.upper()).status_code == 200


def test_signup_with_a_registered_email_answers_the_same_and_warns_the_owner(server: LiveServer) -> None:
    owner = make_account(server)
    intruder = unique("intruder")
    with server.client() as client:
        response = client.post(
            "/v1/signup",
            json={"email": owner.email.upper(), "username": intruder, "password": PASSWORD, "name": "Intruder"},
        )
        assert response.status_code == 202
        assert response.json() == {"status": "verification_sent"}
        warning = latest_email(client, owner.email)
        assert "someone tried to sign up" in warning["subject"].lower()
        assert "token=" not in warning["text"]
        assert client.get(f"/v1/usernames/{intruder}").json()["available"] is True


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"email": "not-an-email"}, 400, "invalid_email"),
        ({"email": "two@@example.com"}, 400, "invalid_email"),
        ({"username": "x"}, 400, "invalid_username"),
        ({"username": "9lives"}, 400, "invalid_username"),
        ({"username": "white space"}, 400, "invalid_username"),
        ({"password": "short"}, 400, "password_too_short"),
        ({"password": "p" * 257}, 400, "password_too_long"),
        ({"password": "password"}, 400, "insecure_password"),
        ({"password": "12345678"}, 400, "insecure_password"),
        ({"password": "MyFrontdeskPassword"}, 400, "insecure_password"),
    ],
)
def test_signup_refuses_bad_fields_and_sends_nothing(
    server: LiveServer, change: dict[str, str], status: int, code: str
) -> None:
    username = unique("bad")
    body = {"email": f"{username}@example.com", "username": username, "password": PASSWORD, "name": "Bad"}
    body.update(change)
    with server.client() as client:
        assert error_code(client.post("/v1/signup", json=body), status) == code
    assert emails_to(server, str(body["email"])) == []


def test_signup_with_a_taken_username_is_409(server: LiveServer) -> None:
    taken = make_account(server)
    with server.client() as client:
        body = {"email": f"{unique()}@example.com", "username": taken.username.upper(), "password": PASSWORD}
        response = client.post("/v1/signup", json={**body, "name": "Copycat"})
        assert error_code(response, 409) == "username_taken"


def test_two_pending_signups_for_one_username_the_second_confirm_is_409(server: LiveServer) -> None:
    username = unique("race")
    tokens = []
    with server.client() as client:
        for n in (1, 2):
            email = f"{username}.{n}@example.com"
            body = {"email": email, "username": username, "password": PASSWORD, "name": f"Racer {n}"}
            assert client.post("/v1/signup", json=body).status_code == 202
            tokens.append(token_in(latest_email(client, email, "confirm")))
        first = client.post("/v1/signup/confirm", json={"token": tokens[0]})
        assert first.status_code == 200, first.text
        assert error_code(client.post("/v1/signup/confirm", json={"token": tokens[1]}), 409) == "username_taken"
    with server.client() as other:
        assert log_in(other, f"{username}.1@example.com").status_code == 200
        assert error_code(log_in(other, f"{username}.2@example.com"), 401) == "invalid_credentials"


def test_signup_token_that_was_never_issued_is_invalid(server: LiveServer) -> None:
    with server.client() as client:
        assert error_code(client.post("/v1/signup/confirm", json={"token": "A" * 43}), 400) == "invalid_token"


def test_usernames_reports_invalid_names(server: LiveServer) -> None:
    with server.client() as client:
        response = client.get("/v1/usernames/_no")
        assert response.status_code == 200
        assert response.json() == {"username": "_no", "valid": False, "available": False}


# --- login, logout, current session -------------------------------------------------------------


def test_login_by_username_or_email_in_any_case(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as client:
        by_name = log_in(client, account.username.upper())
        assert by_name.status_code == 200, by_name.text
        short = check_auth_result(by_name.json(), account.username, long_lived=False)
        by_email = log_in(client, account.email.upper(), remember=True)
        assert by_email.status_code == 200, by_email.text
        long = check_auth_result(by_email.json(), account.username, long_lived=True)
        assert short != long, "every login gets a new session"
        assert by_name.json()["user_id"] == account.user_id


def test_wrong_password_and_unknown_user_get_the_same_answer(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as client:
        wrong = log_in(client, account.username, "not the password at all")
        unknown = log_in(client, unique("nobody"), "not the password at all")
        assert error_code(wrong, 401) == error_code(unknown, 401) == "invalid_credentials"
        assert wrong.json() == unknown.json()
        assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers
        assert client.get("/v1/session").json() == {"logged_in": False}


def test_a_deleted_user_cannot_log_in_and_their_sessions_end(server: LiveServer) -> None:
    account = make_account(server)
    before = newest_email_id(server)
    with signed_in(server, account) as browser:
        service(server).call(delete_user, account.user_id, RequestContext(), actor_id=None)
        assert browser.get("/v1/verify").status_code == 401
        assert error_code(log_in(browser, account.username), 401) == "invalid_credentials"
        assert browser.post("/v1/login-link", json={"user": account.username}).status_code == 202
        assert browser.post("/v1/password-reset", json={"user": account.email}).status_code == 202
    assert emails_to(server, account.email) == []
    assert newest_email_id(server) == before


def test_logout_ends_the_session_and_always_answers_204(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser, signed_in(server, account) as other:
        token = session_token(browser)
        ended = int(browser.get("/v1/verify").headers["x-frontdesk-session-id"])
        key = create_api_key(browser, account)
        assert browser.post("/v1/logout").status_code == 204
        with server.client(cookies={"frontdesk-session": token}) as replay:
            assert replay.get("/v1/verify").status_code == 401, "a logged-out session still works"
        listed = {s["id"] for s in other.get("/v1/sessions").json()["sessions"]}
        assert ended not in listed and key["id"] in listed and len(listed) == 2
        assert other.get("/v1/verify").status_code == 200
    with server.client() as anonymous:
        assert anonymous.post("/v1/logout").status_code == 204
    with server.client(cookies={"frontdesk-session": "not-a-session"}) as invalid:
        assert invalid.post("/v1/logout").status_code == 204
    with server.client(headers=bearer(str(key["token"]))) as api:
        assert api.post("/v1/logout").status_code == 204
        assert api.get("/v1/verify").status_code == 200, "logout is for cookie sessions; the API key lives on"
    with signed_in(server, account) as both:
        token = session_token(both)
        both.headers.update(bearer(str(key["token"])))
        # a cookie and a bearer: the cookie session still ends and the cookies are still cleared
        out = both.post("/v1/logout")
        assert out.status_code == 204
        cleared = set_cookies(out)
        assert {"frontdesk-session", "frontdesk-user-id"} <= set(cleared)
        assert all(
            cleared[name].attributes.get("max-age") == "0" for name in ("frontdesk-session", "frontdesk-user-id")
        )
    with server.client() as check:
        assert check.get("/v1/verify", headers=cookie(token)).status_code == 401
        assert check.get("/v1/verify", headers=bearer(str(key["token"]))).status_code == 200


def test_current_session_for_anonymous_cookie_and_api_key(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as anonymous:
        response = anonymous.get("/v1/session")
        assert response.status_code == 200 and response.json() == {"logged_in": False}
    with signed_in(server, account, remember=True) as browser:
        me = browser.get("/v1/session").json()
        assert set(me) == {
            "logged_in",
            "user_id",
            "username",
            "expiry",
            "long_lived",
            "is_api_key",
            "aal",
            "factors",
            "authenticated_at",
        }
        assert me["logged_in"] is True and me["user_id"] == account.user_id and me["username"] == account.username
        assert me["long_lived"] is True and me["is_api_key"] is False
        utc_time(me["expiry"])
        assert (me["aal"], me["factors"]) == (1, ["password"])
        utc_time(me["authenticated_at"])
        key = create_api_key(browser, account)
    with server.client(headers=bearer(str(key["token"]))) as api:
        me = api.get("/v1/session").json()
        assert me["is_api_key"] is True and me["user_id"] == account.user_id
        assert me["expiry"] == key["expiry"]
        assert (me["aal"], me["factors"]) == (1, []), "API keys are always aal 1"


# --- login links --------------------------------------------------------------------------------


def test_login_link_signs_in_once(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as browser:
        response = browser.post("/v1/login-link", json={"user": account.username.upper()})
        assert response.status_code == 202
        email = latest_email(browser, account.email, "sign-in link")
        token = token_in(email)
        assert f"{server.url}/" in email["text"], "links point at the public URL"
        confirmed = browser.post("/v1/login-link/confirm", json={"token": token, "remember_device": True})
        assert confirmed.status_code == 200, confirmed.text
        check_auth_result(confirmed.json(), account.username, long_lived=True)
        assert browser.get("/v1/verify").headers["x-frontdesk-user-id"] == str(account.user_id)
    with server.client() as again:
        assert error_code(again.post("/v1/login-link/confirm", json={"token": token}), 400) == "invalid_token"
        assert error_code(again.post("/v1/login-link/confirm", json={"token": "x" * 40}), 400) == "invalid_token"


def test_login_link_for_an_unknown_user_answers_202_and_sends_nothing(server: LiveServer) -> None:
    before = newest_email_id(server)
    nobody = unique("nobody")
    with server.client() as client:
        first = client.post("/v1/login-link", json={"user": nobody})
        second = client.post("/v1/login-link", json={"user": f"{nobody}@example.com"})
        assert first.status_code == second.status_code == 202 and first.json() == second.json()
    assert newest_email_id(server) == before


# --- password reset -----------------------------------------------------------------------------


def test_password_reset_for_an_unknown_user_answers_202_and_sends_nothing(server: LiveServer) -> None:
    known = make_account(server)
    before = newest_email_id(server)
    with server.client() as client:
        unknown = client.post("/v1/password-reset", json={"user": f"{unique('nobody')}@example.com"})
        assert unknown.status_code == 202
        assert newest_email_id(server) == before, "an email was sent for an unknown user"
        existing = client.post("/v1/password-reset", json={"user": known.email})
        assert existing.status_code == 202 and existing.json() == unknown.json()
    assert newest_email_id(server) > before


def test_password_reset_revokes_sessions_api_keys_and_links(server: LiveServer) -> None:
    account = make_account(server)
    new_password = "a brand new passphrase"
    with signed_in(server, account) as one, signed_in(server, account) as two, server.client() as stranger:
        key = create_api_key(one, account)
        assert stranger.post("/v1/login-link", json={"user": account.username}).status_code == 202
        link_token = token_in(latest_email(stranger, account.email, "sign-in link"))
        assert stranger.post("/v1/password-reset", json={"user": account.username}).status_code == 202
        reset_token = token_in(latest_email(stranger, account.email, "reset"))

        too_short = stranger.post("/v1/password-reset/confirm", json={"token": reset_token, "new_password": "short"})
        assert error_code(too_short, 400) == "password_too_short"
        assert one.get("/v1/verify").status_code == 200, "a refused reset changed something"

        done = stranger.post("/v1/password-reset/confirm", json={"token": reset_token, "new_password": new_password})
        assert done.status_code == 200, done.text
        check_auth_result(done.json(), account.username, long_lived=False)
        assert stranger.get("/v1/verify").status_code == 200, "the reset signs the user in"
        assert one.get("/v1/verify").status_code == 401
        assert two.get("/v1/verify").status_code == 401
        with server.client(headers=bearer(str(key["token"]))) as api:
            assert api.get("/v1/verify").status_code == 401, "an API key survived a reset"
        assert error_code(stranger.post("/v1/login-link/confirm", json={"token": link_token}), 400) == "invalid_token"
        again = stranger.post("/v1/password-reset/confirm", json={"token": reset_token, "new_password": new_password})
        assert error_code(again, 400) == "invalid_token"
        assert "password was changed" in latest_email(stranger, account.email)["subject"].lower()
    with server.client() as fresh:
        assert error_code(log_in(fresh, account.username), 401) == "invalid_credentials"
        assert log_in(fresh, account.username, new_password).status_code == 200


def test_password_reset_keeps_api_keys_when_asked(server: LiveServer) -> None:
    account = make_account(server)
    with signed_in(server, account) as browser, server.client() as stranger:
        key = create_api_key(browser, account)
        assert stranger.post("/v1/password-reset", json={"user": account.username}).status_code == 202
        token = token_in(latest_email(stranger, account.email, "reset"))
        body = {"token": token, "new_password": "a brand new passphrase", "keep_api_keys": True}
        assert stranger.post("/v1/password-reset/confirm", json=body).status_code == 200
        assert browser.get("/v1/verify").status_code == 401
        with server.client(headers=bearer(str(key["token"]))) as api:
            assert api.get("/v1/verify").status_code == 200, "keep_api_keys did not keep the key"


def test_password_reset_refuses_weak_passwords_like_signup(server: LiveServer) -> None:
    account = make_account(server)
    with server.client() as client:
        assert client.post("/v1/password-reset", json={"user": account.email}).status_code == 202
        token = token_in(latest_email(client, account.email, "reset"))
        for password, code in (("p" * 257, "password_too_long"), ("password1", "insecure_password")):
            response = client.post("/v1/password-reset/confirm", json={"token": token, "new_password": password})
            assert error_code(response, 400) == code
        missing = client.post("/v1/password-reset/confirm", json={"token": "y" * 43, "new_password": PASSWORD + "!"})
        assert error_code(missing, 400) == "invalid_token"


def test_signed_up_users_can_use_everything(server: LiveServer) -> None:
    """The quick start with email, to check the mailbox journey end to end once more per backend."""
    username = unique("quick")
    with server.client() as browser:
        result = sign_up(browser, username)
        assert browser.get("/v1/verify").headers["x-frontdesk-username"] == username
        assert browser.get("/v1/session").json()["user_id"] == result["user_id"]
