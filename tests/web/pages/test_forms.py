"""The pages' forms over plain HTTP: CSRF tokens, field errors, rate limits, redirects, headers."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.live import LiveServer, start_server
from tests.web.helpers import PASSWORD, latest_email, log_in, token_in
from tests.web.helpers import sign_up as api_sign_up
from tests.web.pages.forms import csrf_token, error_of, submit, value_of


def test_forms_need_this_browsers_token_for_that_form(pages_server: LiveServer) -> None:
    with pages_server.client() as browser, pages_server.client() as other:
        api_sign_up(browser, "alice")
        browser.post("/v1/logout")
        login_page = browser.get("/login")
        assert "frontdesk-csrf" in login_page.headers["set-cookie"]
        token = csrf_token(login_page.text, "/login")
        signup_token = csrf_token(browser.get("/signup").text, "/signup")
        other_token = csrf_token(other.get("/login").text, "/login")
        fields = {"user": "alice", "password": PASSWORD}

        for bad in ("", signup_token, other_token, "0" * 64):
            refused = browser.post("/login", data={**fields, "csrf_token": bad})
            assert refused.status_code == 403
            assert "This form had expired" in refused.text
            assert "frontdesk-session" not in browser.cookies
        # the refused form came back with a working token (and what was typed, minus the password)
        assert value_of(refused.text, "user") == "alice"
        assert value_of(refused.text, "password") is None

        done = browser.post("/login", data={**fields, "csrf_token": token})
        assert done.status_code == 303 and done.headers["location"] == "/account"
        assert browser.cookies.get("frontdesk-session")

        # signed in: an account action without its token does nothing
        before = [s["id"] for s in browser.get("/v1/sessions").json()["sessions"]]
        refused = browser.post("/account/sessions/revoke-others", data={"csrf_token": token})
        assert refused.status_code == 403 and "This form had expired" in refused.text
        assert [s["id"] for s in browser.get("/v1/sessions").json()["sessions"]] == before


def test_a_form_posted_from_another_site_is_refused_by_the_origin_check(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        token = csrf_token(browser.get("/login").text, "/login")
        response = browser.post(
            "/login",
            data={"user": "x", "password": "y", "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"


def test_signup_shows_every_field_error_at_once_and_keeps_what_was_typed(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        response = submit(browser, "/signup", "/signup", name="", email="bea@", username="9lives", password="hunter")
        assert response.status_code == 400
        page = response.text
        assert error_of(page, "name") == "Error: Enter your name."
        assert "not a valid email" in (error_of(page, "email") or "")
        assert "Usernames are 3 to 32 characters" in (error_of(page, "username") or "")
        assert "at least 8 characters" in (error_of(page, "password") or "")
        assert value_of(page, "email") == "bea@" and value_of(page, "username") == "9lives"
        assert value_of(page, "password") is None and "hunter" not in page
        assert 'aria-invalid="true"' in page and page.count(" autofocus") == 1
        assert re.search(r'<input id="name"[^>]* autofocus', page)


def test_typed_values_are_escaped(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        response = submit(browser, "/login-link", "/login-link", user="")
        assert response.status_code == 400
        response = submit(browser, "/forgot-password", "/forgot-password", user='"><script>alert(1)</script>')
        assert response.status_code == 200 and "<script>" not in response.text
        signup = submit(browser, "/signup", "/signup", name="<b>x</b>", email="a@", username="ok_name", password="")
        assert "<b>x</b>" not in signup.text and "&lt;b&gt;x&lt;/b&gt;" in signup.text


def test_login_rate_limit_answers_with_a_readable_message(database_url: str, tmp_path: Path) -> None:
    server = start_server(database_url, tmp_path, extra_env={"FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT": "2"})
    try:
        with server.client() as browser:
            api_sign_up(browser, "carol")
            browser.post("/v1/logout")
            for _ in range(2):
                wrong = submit(browser, "/login", "/login", user="carol", password="wrong password")
                assert wrong.status_code == 401 and "is not right" in wrong.text
            limited = submit(browser, "/login", "/login", user="carol", password=PASSWORD)
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) > 0
            assert "Too many attempts" in limited.text
            assert re.search(r"please wait (a minute|\d+ minutes) and try again", limited.text)
            assert value_of(limited.text, "user") == "carol"
    finally:
        server.stop()


def test_pages_that_need_a_session_send_you_to_sign_in_and_back(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        response = browser.get("/account?notice=welcome")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Faccount%3Fnotice%3Dwelcome"
        assert browser.get("/").headers["location"] == "/account"
        api_sign_up(browser, "dave")
        browser.post("/v1/logout")
        for target, lands in [
            ("/account?notice=welcome", "/account?notice=welcome"),
            ("https://evil.example/", "/account"),
            ("//evil.example/", "/account"),
            (f"{pages_server.url}/account", f"{pages_server.url}/account"),
        ]:
            shown = browser.get("/login", params={"next": target})
            assert f'name="next" value="{lands.replace("&", "&amp;")}"' in shown.text
            done = submit(browser, "/login", "/login", user="dave", password=PASSWORD, next=target)
            assert done.headers["location"] == lands
            browser.post("/v1/logout")
        assert log_in(browser, "dave").status_code == 200
        # already signed in: /login goes straight on
        assert browser.get("/login").headers["location"] == "/account"


def test_links_from_emails_are_used_only_by_pressing_the_button(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        api_sign_up(browser, "erin")
        browser.post("/v1/password-reset", json={"user": "erin"})
        token = token_in(latest_email(browser, "erin@example.com", "reset"))
        page = f"/reset-password?token={token}"
        for _ in range(2):
            shown = browser.get(page)
            assert shown.status_code == 200 and f'value="{token}"' in shown.text
        weak = submit(browser, page, "/reset-password", token=token, new_password="password")
        assert weak.status_code == 400 and "too common" in (error_of(weak.text, "new_password") or "")
        done = submit(browser, page, "/reset-password", token=token, new_password="a brand new passphrase")
        assert done.status_code == 303 and done.headers["location"] == "/account?notice=password-reset"
        again = browser.get(page)  # used: the page says so at once, with no form to fill in
        assert again.status_code == 400 and "has expired or was already used" in again.text
        assert 'action="/reset-password"' not in again.text and 'href="/forgot-password"' in again.text
        assert browser.get("/reset-password").text.count("This link is incomplete") == 1


def _emailed_links(browser: httpx.Client, name: str) -> dict[str, str]:
    """A live reset, sign-in and signup link (page path) for a new user `name`."""
    api_sign_up(browser, name)
    browser.post("/v1/logout")
    browser.post("/v1/password-reset", json={"user": name})
    reset = token_in(latest_email(browser, f"{name}@example.com", "reset"))
    browser.post("/v1/login-link", json={"user": name})
    login = token_in(latest_email(browser, f"{name}@example.com", "sign-in"))
    browser.post(
        "/v1/signup",
        json={"email": f"{name}2@example.com", "username": f"{name}2", "password": PASSWORD, "name": "Two"},
    )
    signup = token_in(latest_email(browser, f"{name}2@example.com", "confirm"))
    return {
        "/reset-password": f"/reset-password?token={reset}",
        "/login-link/confirm": f"/login-link/confirm?token={login}",
        "/signup/confirm": f"/signup/confirm?token={signup}",
    }


NEW_LINK = {"/reset-password": "/forgot-password", "/login-link/confirm": "/login-link", "/signup/confirm": "/signup"}


def test_a_used_or_expired_link_says_so_on_opening(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        for action, page in _emailed_links(browser, "hana").items():
            live = browser.get(page)
            assert live.status_code == 200 and f'action="{action}"' in live.text  # checked, not used
            assert browser.get(page).status_code == 200
            for dead in (page + "x", page.split("=")[0] + "=" + "A" * 43, page.split("=")[0] + "=" + "é" * 600):
                shown = browser.get(dead)
                assert shown.status_code == 400, (dead, shown.text)
                assert "This link no longer works" in shown.text and "has expired or was already used" in shown.text
                assert f'action="{action}"' not in shown.text and "Press the button" not in shown.text
                assert f'href="{NEW_LINK[action]}"' in shown.text


def test_pressing_the_button_on_a_link_that_died_shows_the_dead_link_page(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        links = _emailed_links(browser, "ines")
        forms = {action: browser.get(page).text for action, page in links.items()}  # opened while live
        token = {action: page.split("=", 1)[1] for action, page in links.items()}
        # each link is used elsewhere (another tab, the API) before its button is pressed here
        assert browser.post("/v1/login-link/confirm", json={"token": token["/login-link/confirm"]}).status_code == 200
        browser.post("/v1/logout")
        assert (
            browser.post(
                "/v1/password-reset/confirm",
                json={"token": token["/reset-password"], "new_password": "a new passphrase!"},
            ).status_code
            == 200
        )
        browser.post("/v1/logout")
        assert browser.post("/v1/signup/confirm", json={"token": token["/signup/confirm"]}).status_code == 200
        browser.post("/v1/logout")
        fields = {"/reset-password": {"new_password": "yet another passphrase"}}
        for action, html in forms.items():
            data = {"csrf_token": csrf_token(html, action), "token": token[action], **fields.get(action, {})}
            pressed = browser.post(action, data=data, follow_redirects=False)
            assert pressed.status_code == 400, (action, pressed.text)
            assert "has expired or was already used" in pressed.text
            assert f'action="{action}"' not in pressed.text and "Press the button" not in pressed.text
            assert f'href="{NEW_LINK[action]}"' in pressed.text


def test_account_page_creates_an_api_key_shown_once_and_changes_the_password(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        api_sign_up(browser, "fay")
        wrong = submit(browser, "/account", "/account/api-keys", name="ci", expiry_days="30", password="nope")
        assert wrong.status_code == 401 and error_of(wrong.text, "key-password") == "Error: That password is not right."
        assert value_of(wrong.text, "key-name") == "ci" and "<details open>" in wrong.text
        bad_days = submit(browser, "/account", "/account/api-keys", name="ci", expiry_days="0", password=PASSWORD)
        assert bad_days.status_code == 400 and "1 to 730" in (error_of(bad_days.text, "key-expiry_days") or "")

        created = submit(browser, "/account", "/account/api-keys", name="ci", expiry_days="30", password=PASSWORD)
        assert created.status_code == 201
        key = value_of(created.text, "new-key")
        assert key and key.startswith("fdk_")
        assert created.headers["cache-control"] == "no-store"
        assert key not in browser.get("/account").text  # shown once
        verified = httpx.get(f"{pages_server.url}/v1/verify", headers={"Authorization": f"Bearer {key}"})
        assert verified.status_code == 200

        wrong = submit(browser, "/account", "/account/password", current_password="nope", new_password="x" * 10)
        assert wrong.status_code == 401
        assert error_of(wrong.text, "pw-current_password") == "Error: That is not your current password."
        changed = submit(
            browser, "/account", "/account/password", current_password=PASSWORD, new_password="new and improved"
        )
        assert changed.headers["location"] == "/account?notice=password-changed"
        assert "Your password is changed" in browser.get("/account?notice=password-changed").text


def test_logout_page_signs_out_with_a_button(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        api_sign_up(browser, "gus")
        assert "signed in as <strong>gus</strong>" in browser.get("/logout").text
        done = submit(browser, "/logout", "/logout")
        assert done.headers["location"] == "/login?notice=signed-out"
        assert "frontdesk-session" not in browser.cookies
        assert browser.get("/logout").headers["location"] == "/login"
        assert "You are signed out." in browser.get("/login?notice=signed-out").text


def test_pages_send_protective_headers(pages_server: LiveServer) -> None:
    for path in ("/login", "/signup", "/login-link", "/forgot-password", "/reset-password"):
        response = httpx.get(pages_server.url + path)
        assert response.status_code == (400 if path == "/reset-password" else 200)  # no token: an error page
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
        # only the pages with the WebAuthn script (here /login: passkeys) may run one, from /static
        if path == "/login":
            assert "script-src 'self'; connect-src 'self';" in csp
            script = re.findall(r'<script src="(/static/webauthn\.js\?v=[0-9a-f]{12})" defer></script>', response.text)
            assert len(script) == 1 and "<script>" not in response.text
            fetched = httpx.get(pages_server.url + script[0])
            assert fetched.headers["content-type"] == "text/javascript; charset=utf-8"
        else:
            assert "script-src" not in csp and "<script" not in response.text
    for asset in re.findall(r'href="(/static/[^"]+)"', response.text):
        fetched = httpx.get(pages_server.url + asset)
        assert fetched.status_code == 200 and fetched.headers["content-type"].startswith("text/css")
        assert "immutable" in fetched.headers["cache-control"]


def test_the_check_your_email_page_says_the_lifetime_the_email_says(pages_server: LiveServer) -> None:
    with pages_server.client() as browser:
        sent = submit(
            browser, "/signup", "/signup", name="Lif", email="lif@example.com", username="lifetime", password=PASSWORD
        )
        assert sent.status_code == 200
        email = latest_email(browser, "lif@example.com", "confirm")
        assert "expires in 48 hours" in email["text"]  # FRONTDESK_SIGNUP_TOKEN_TTL's default, 48 h
        assert "expires in 48 hours" in sent.text
        linked = submit(browser, "/login-link", "/login-link", user="nobody-here")
        assert "expires in 10 minutes" in linked.text


def test_reset_and_change_forms_offer_keeping_api_keys_unticked(pages_server: LiveServer) -> None:
    unticked = re.compile(r'<input id="(pw-)?keep_api_keys" name="keep_api_keys" type="checkbox" value="1"[^>]*>')
    with pages_server.client() as browser:
        api_sign_up(browser, "gwen")
        account = browser.get("/account").text
        browser.post("/v1/password-reset", json={"user": "gwen"})
        token = token_in(latest_email(browser, "gwen@example.com", "reset"))
        reset = browser.get(f"/reset-password?token={token}").text
        for page in (account, reset):
            box = unticked.search(page)
            assert box is not None and "checked" not in box.group(0)
        key = browser.post("/v1/api-keys", json={"password": PASSWORD, "name": "kept", "expiry_days": 5}).json()
        done = submit(
            browser,
            f"/reset-password?token={token}",
            "/reset-password",
            token=token,
            new_password="a brand new passphrase",
            keep_api_keys="1",
        )
        assert done.status_code == 303
        with httpx.Client(base_url=pages_server.url, headers={"Authorization": f"Bearer {key['token']}"}) as api:
            assert api.get("/v1/verify").status_code == 200
