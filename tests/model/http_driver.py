"""The contract's operations over HTTP, against a running `frontdesk serve` (tests/live.py).

Time: the server runs on the real clock, so moving it is SQL time travel: every timestamp in the
database is shifted back by the step (after the server has written its pending session touches),
which to the server is the same as the clock having moved on. `now()` is the real time plus the
travel so far. Emails are read from the outbox table (the dev mailbox's source); the administrator is made with
the library on the server's database.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import DateTime, Interval, literal, select, update

from frontdesk.models import Base, OutboxEmail
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from tests.databases import empty_database
from tests.fast import fast_settings
from tests.live import LiveServer
from tests.mailbox import token_from
from tests.model.drivers import LINK_KINDS, Challenged, Enrolled, NewKey, Outcome, Refused, Signed
from tests.model.model import API_KEY_DAYS, Answer
from tests.waiting import wait_until

# the server's environment: limits out of reach (as drivers.NO_LIMITS), touches written quickly
SERVER_ENV = {
    "FRONTDESK_LOGIN_FAILURES_PER_ACCOUNT": "1000000",
    "FRONTDESK_LOGIN_FAILURES_PER_IP": "1000000",
    "FRONTDESK_EMAILS_PER_ADDRESS": "1000000",
    "FRONTDESK_EMAILS_PER_IP": "1000000",
    "FRONTDESK_SIGNUPS_PER_IP": "1000000",
    "FRONTDESK_TOUCH_FLUSH_INTERVAL": "50ms",
}
TOUCH_SETTLE = 0.2  # seconds: longer than the flush interval, so every touch is written
EMAIL_WAIT = 5.0  # a link is emailed just after the 202 (a background task)
NO_EMAIL_WAIT = 0.3


class HttpDriver:
    """One per state-machine run; the server is shared, the database emptied for each run."""

    def __init__(self, server: LiveServer) -> None:
        empty_database(server.database_url)
        self.server = server
        self.fd = Frontdesk(fast_settings(server.database_url))
        self.http = server.client()
        self.offset = timedelta()
        self.admin: tuple[str, str] | None = None
        self.admin_cookie: str | None = None
        # a sign-up (request, email, confirmation) on a loaded machine takes seconds; the clock's
        # smallest step is a minute, so an auth time is still told apart from the next one
        self.time_slack = 30.0

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def totp_now(self) -> datetime:
        """TOTP runs on the server's real clock: SQL time travel does not move its steps."""
        return datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        time.sleep(TOUCH_SETTLE)
        with self.fd.transaction() as db:
            for table in Base.metadata.sorted_tables:
                # frontdesk's timestamps are a TypeDecorator (UTCDateTime) over DateTime. A timestamp in
                # a primary key (a rate-limit window) stays: PostgreSQL checks uniqueness row by row
                # during the UPDATE, and the limits are out of reach here anyway
                columns = [
                    c
                    for c in table.columns
                    if isinstance(getattr(c.type, "impl", c.type), DateTime) and not c.primary_key
                ]
                if columns:
                    step = literal(delta, type_=Interval())
                    db.execute(update(table).values({c.name: c - step for c in columns}))
        self.offset += delta

    def close(self) -> None:
        self.http.close()
        self.fd.close()

    # --- HTTP ------------------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, *, token: str | None = None, is_api_key: bool = False, json: Any = None
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        if token is not None:
            if is_api_key:
                headers["Authorization"] = f"Bearer {token}"
            else:
                headers["Cookie"] = f"frontdesk-session={token}"
        self.http.cookies.clear()  # a client of its own each time: only the credential given is sent
        return self.http.request(method, path, headers=headers, json=json)

    @staticmethod
    def _refused(response: httpx.Response) -> Refused:
        assert response.status_code < 500, f"{response.status_code}: {response.text}"
        body: Mapping[str, Any] = response.json()
        return Refused(str(body["error"]["code"]))

    def _signed(self, response: httpx.Response) -> Outcome:
        if response.status_code == 202 and response.json().get("status") == "mfa_required":
            return Challenged(response.json()["challenge"])
        if response.status_code != 200:
            return self._refused(response)
        body = response.json()
        token = response.cookies.get("frontdesk-session")
        assert token, "a sign-in set no session cookie"
        return Signed(token, body["session"]["id"], body["user_id"], body["session"]["long_lived"])

    def _done(self, response: httpx.Response, status: int) -> Refused | None:
        return None if response.status_code == status else self._refused(response)

    def _last_email_id(self) -> int:
        with self.fd.factory() as db:
            return db.scalar(select(OutboxEmail.id).order_by(OutboxEmail.id.desc()).limit(1)) or 0

    def _email_token(self, kind: str, to: str, before: int, wait: float) -> str | None:
        found: list[OutboxEmail] = []

        def look() -> bool:
            with self.fd.factory() as db:
                query = select(OutboxEmail).where(
                    OutboxEmail.kind == kind, OutboxEmail.to_address == to, OutboxEmail.id > before
                )
                found.extend(db.scalars(query))
            return bool(found)

        return token_from(found[-1]) if wait_until(look, timeout=wait, interval=0.02) else None

    # --- operations ------------------------------------------------------------------------------

    def sign_up(self, email: str, username: str, password: str) -> Outcome:
        before = self._last_email_id()
        body = {"email": email, "username": username, "password": password, "name": username}
        response = self._send("POST", "/v1/signup", json=body)
        if response.status_code != 202:
            return self._refused(response)
        token = self._email_token("signup_confirm", email, before, EMAIL_WAIT)
        if token is None:
            return Refused("no_email")
        return self._signed(self._send("POST", "/v1/signup/confirm", json={"token": token}))

    def make_admin(self, email: str, username: str, password: str) -> int:
        ctx = RequestContext(ip_address="127.0.0.1", user_agent="model")
        user = self.fd.call(
            create_user, email=email, username=username, password=password, name=username, ctx=ctx, is_superuser=True
        )
        self.admin = (username, password)
        return user.id

    def log_in(self, login: str, password: str, remember: bool) -> Outcome:
        body = {"user": login, "password": password, "remember_device": remember}
        return self._signed(self._send("POST", "/v1/login", json=body))

    def request_link(self, purpose: str, email: str, login: str, *, expect: bool) -> str | None:
        before = self._last_email_id()
        path = "/v1/login-link" if purpose == "login" else "/v1/password-reset"
        response = self._send("POST", path, json={"user": login})
        assert response.status_code == 202, response.text
        return self._email_token(LINK_KINDS[purpose], email, before, EMAIL_WAIT if expect else NO_EMAIL_WAIT)

    def use_login_link(self, token: str, remember: bool) -> Outcome:
        body = {"token": token, "remember_device": remember}
        return self._signed(self._send("POST", "/v1/login-link/confirm", json=body))

    def use_reset_link(self, token: str, new_password: str, keep_api_keys: bool) -> Outcome:
        body = {"token": token, "new_password": new_password, "keep_api_keys": keep_api_keys}
        return self._signed(self._send("POST", "/v1/password-reset/confirm", json=body))

    def second_step(self, challenge: str, *, totp: str | None = None, recovery_code: str | None = None) -> Outcome:
        body: dict[str, str] = {"challenge": challenge}
        if totp is not None:
            body["totp"] = totp
        if recovery_code is not None:
            body["recovery_code"] = recovery_code
        return self._signed(self._send("POST", "/v1/login/second-factor", json=body))

    def check(self, token: str, is_api_key: bool) -> Answer | None:
        """`/v1/verify`, and `/v1/session` must agree with it."""
        verify = self._send("GET", "/v1/verify", token=token, is_api_key=is_api_key)
        current = self._send("GET", "/v1/session", token=token, is_api_key=is_api_key)
        assert current.status_code == 200, current.text
        shown = current.json()
        if verify.status_code == 401:
            assert not shown["logged_in"], "/v1/session says signed in where /v1/verify says 401"
            return None
        assert verify.status_code == 200, f"{verify.status_code}: {verify.text}"
        user_id = int(verify.headers["X-Frontdesk-User-Id"])
        session_id = int(verify.headers["X-Frontdesk-Session-Id"])
        # /v1/session is read a moment later: it may already see the session expire, never another
        if shown["logged_in"]:
            assert shown["user_id"] == user_id and shown["is_api_key"] == is_api_key, shown
            assert shown["aal"] == int(verify.headers["X-Frontdesk-AAL"]), shown
        aal = int(verify.headers["X-Frontdesk-AAL"])
        # the stored time has travelled back with every clock step: in the model's time, add them
        auth_time = int(verify.headers["X-Frontdesk-Auth-Time"]) + int(self.offset.total_seconds())
        return Answer(user_id, session_id, aal, auth_time)

    def log_out(self, token: str) -> None:
        response = self._send("POST", "/v1/logout", token=token)
        assert response.status_code == 204, response.text

    def create_key(self, token: str, is_api_key: bool, password: str) -> NewKey | Refused:
        body = {"password": password, "name": "model key", "expiry_days": API_KEY_DAYS}
        response = self._send("POST", "/v1/api-keys", token=token, is_api_key=is_api_key, json=body)
        if response.status_code != 201:
            return self._refused(response)
        return NewKey(response.json()["token"], response.json()["id"])

    def revoke(self, token: str, is_api_key: bool, session_id: int) -> Refused | None:
        return self._done(self._send("DELETE", f"/v1/sessions/{session_id}", token=token, is_api_key=is_api_key), 204)

    def revoke_others(self, token: str, is_api_key: bool) -> Refused | None:
        response = self._send(
            "POST", "/v1/sessions/revoke-others", token=token, is_api_key=is_api_key, json={"confirm": True}
        )
        return self._done(response, 200)

    def change_password(self, token: str, is_api_key: bool, old: str, new: str, keep_api_keys: bool) -> Refused | None:
        body = {"old_password": old, "new_password": new, "keep_api_keys": keep_api_keys}
        return self._done(self._send("POST", "/v1/password", token=token, is_api_key=is_api_key, json=body), 204)

    def set_banned(self, user_id: int, banned: bool) -> None:
        path = f"/v1/admin/users/{user_id}/{'ban' if banned else 'unban'}"
        for _ in range(2):
            if self.admin_cookie is not None:
                response = self._send("POST", path, token=self.admin_cookie)
                if response.status_code == 204:
                    return
            assert self.admin is not None
            signed = self.log_in(self.admin[0], self.admin[1], True)  # the admin's session outlived by the clock
            assert isinstance(signed, Signed), signed
            self.admin_cookie = signed.token
        raise AssertionError(f"the admin could not {path}")

    def begin_totp(self, token: str, is_api_key: bool) -> str | Refused:
        response = self._send("POST", "/v1/second-factors/totp", token=token, is_api_key=is_api_key)
        return str(response.json()["secret"]) if response.status_code == 200 else self._refused(response)

    def confirm_totp(self, token: str, is_api_key: bool, code: str) -> Enrolled | Refused:
        response = self._send(
            "POST", "/v1/second-factors/totp/confirm", token=token, is_api_key=is_api_key, json={"totp": code}
        )
        return Enrolled(response.json()["recovery_codes"]) if response.status_code == 200 else self._refused(response)

    def remove_totp(self, token: str, is_api_key: bool) -> Refused | None:
        return self._done(self._send("DELETE", "/v1/second-factors/totp", token=token, is_api_key=is_api_key), 204)

    def reauthenticate(
        self,
        token: str,
        is_api_key: bool,
        *,
        password: str | None = None,
        totp: str | None = None,
        recovery_code: str | None = None,
    ) -> Refused | None:
        given = {"password": password, "totp": totp, "recovery_code": recovery_code}
        body = {k: v for k, v in given.items() if v is not None}
        return self._done(self._send("POST", "/v1/reauthenticate", token=token, is_api_key=is_api_key, json=body), 204)

    # --- the account lifecycle -------------------------------------------------------------------

    def mail_mark(self) -> int:
        return self._last_email_id()

    def mail(self, kind: str, to: str, since: int, *, expect: bool) -> str | None:
        found: list[str] = []

        def look() -> bool:
            with self.fd.factory() as db:
                query = select(OutboxEmail.text_body).where(
                    OutboxEmail.kind == kind, OutboxEmail.to_address == to, OutboxEmail.id > since
                )
                found.extend(db.scalars(query.order_by(OutboxEmail.id)))
            return bool(found)

        return found[-1] if wait_until(look, timeout=EMAIL_WAIT if expect else NO_EMAIL_WAIT, interval=0.02) else None

    def change_email(self, token: str, is_api_key: bool, new_email: str) -> Refused | None:
        response = self._send("POST", "/v1/email", token=token, is_api_key=is_api_key, json={"new_email": new_email})
        return self._done(response, 202)

    def confirm_email(self, token: str) -> str | Refused:
        response = self._send("POST", "/v1/email/confirm", json={"token": token})
        return str(response.json()["email"]) if response.status_code == 200 else self._refused(response)

    def revert_email(self, token: str) -> Refused | None:
        return self._done(self._send("POST", "/v1/email/revert", json={"token": token}), 204)

    def delete_account(self, token: str, is_api_key: bool, confirm: bool) -> Refused | None:
        response = self._send("DELETE", "/v1/account", token=token, is_api_key=is_api_key, json={"confirm": confirm})
        return self._done(response, 202)

    def restore_account(self, token: str, remember: bool) -> Outcome:
        body = {"token": token, "remember_device": remember}
        return self._signed(self._send("POST", "/v1/account/restore", json=body))
