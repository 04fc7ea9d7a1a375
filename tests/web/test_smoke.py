"""The quick start, end to end, through a real server on both databases."""

from __future__ import annotations

from tests.live import LiveServer
from tests.web.helpers import log_in, sign_up


def test_signup_login_verify_list_logout(live_server: LiveServer) -> None:
    with live_server.client() as browser:
        result = sign_up(browser, "alice")
        assert result["username"] == "alice"
        assert browser.cookies.get("frontdesk-session")
        login = log_in(browser, "ALICE")
        assert login.status_code == 200, login.text
        verify = browser.get("/v1/verify")
        assert verify.status_code == 200
        assert verify.headers["x-frontdesk-user-id"] == str(result["user_id"])
        assert verify.headers["x-frontdesk-username"] == "alice"
        sessions = browser.get("/v1/sessions").json()["sessions"]
        # signing in again from the same browser replaced the signup's session (not a second one)
        assert len(sessions) == 1 and sessions[0]["is_current"]
        assert sessions[0]["id"] == login.json()["session"]["id"]
        assert browser.post("/v1/logout").status_code == 204
        assert browser.get("/v1/verify").status_code == 401
