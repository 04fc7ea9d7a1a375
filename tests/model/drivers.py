"""What the state machine drives: the contract's operations, on the service layer or over HTTP.

Both drivers answer in the same small vocabulary (`Signed`, `Challenged`, `Refused` with the
contract's error code), so one rule set and one reference model check both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from frontdesk.clock import FrozenClock
from frontdesk.errors import FrontdeskError, MustConfirm, SecondFactorRequired
from frontdesk.runtime import Frontdesk
from frontdesk.service import (
    accounts,
    deletion,
    email_change,
    freshness,
    login,
    reauth,
    reset,
    second_factor,
    sessions,
    signup,
    totp,
)
from frontdesk.service.context import Principal, RequestContext
from frontdesk.service.results import AuthResult
from frontdesk.web.errors import code_for
from tests.databases import empty_database
from tests.fast import fast_settings
from tests.mailbox import outbox, token_from
from tests.model.model import API_KEY_DAYS, Answer

# limits far above what a run reaches: the model checks session rules, not rate limits
# (tests/service/test_ratelimit.py and tests/web/test_ratelimit.py pin those)
NO_LIMITS = {
    "login_failures_per_account": 10**6,
    "login_failures_per_ip": 10**6,
    "emails_per_address": 10**6,
    "emails_per_ip": 10**6,
    "signups_per_ip": 10**6,
}
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LINK_KINDS = {"login": "login_link", "reset": "password_reset"}


@dataclass(frozen=True)
class Signed:
    """A first or second factor succeeded: a new cookie session."""

    token: str
    session_id: int
    user_id: int
    long_lived: bool

    def __repr__(self) -> str:
        return f"Signed(session_id={self.session_id}, user_id={self.user_id})"


@dataclass(frozen=True)
class Challenged:
    """202 `mfa_required`: a second step is needed."""

    challenge: str

    def __repr__(self) -> str:
        return "Challenged()"


@dataclass(frozen=True)
class Refused:
    """An error answer, by the contract's code."""

    code: str


Outcome = Signed | Challenged | Refused


@dataclass(frozen=True)
class NewKey:
    token: str
    session_id: int

    def __repr__(self) -> str:
        return f"NewKey(session_id={self.session_id})"


@dataclass(frozen=True)
class Enrolled:
    """A confirmed authenticator app; the recovery codes when it was the first second factor."""

    recovery_codes: list[str] | None


class Driver(Protocol):
    """The contract's operations. A caller is a token and how it is presented (cookie or bearer)."""

    # how far apart the model's and the system's time of one operation may be (seconds)
    time_slack: float

    def now(self) -> datetime: ...
    def totp_now(self) -> datetime: ...  # the time the server's TOTP check runs on
    def advance(self, delta: timedelta) -> None: ...
    def close(self) -> None: ...
    def sign_up(self, email: str, username: str, password: str) -> Outcome: ...
    def make_admin(self, email: str, username: str, password: str) -> int: ...
    def log_in(self, login: str, password: str, remember: bool) -> Outcome: ...
    def request_link(self, purpose: str, email: str, login: str, *, expect: bool) -> str | None: ...
    def use_login_link(self, token: str, remember: bool) -> Outcome: ...
    def use_reset_link(self, token: str, new_password: str, keep_api_keys: bool) -> Outcome: ...
    def second_step(self, challenge: str, *, totp: str | None = None, recovery_code: str | None = None) -> Outcome: ...
    def check(self, token: str, is_api_key: bool) -> Answer | None: ...
    def log_out(self, token: str) -> None: ...
    def create_key(self, token: str, is_api_key: bool, password: str) -> NewKey | Refused: ...
    def revoke(self, token: str, is_api_key: bool, session_id: int) -> Refused | None: ...
    def revoke_others(self, token: str, is_api_key: bool) -> Refused | None: ...
    def change_password(
        self, token: str, is_api_key: bool, old: str, new: str, keep_api_keys: bool
    ) -> Refused | None: ...
    def set_banned(self, user_id: int, banned: bool) -> None: ...
    def begin_totp(self, token: str, is_api_key: bool) -> str | Refused: ...
    def confirm_totp(self, token: str, is_api_key: bool, code: str) -> Enrolled | Refused: ...
    def remove_totp(self, token: str, is_api_key: bool) -> Refused | None: ...
    def reauthenticate(
        self, token: str, is_api_key: bool, *, password: str | None = None, totp: str | None = None,
        recovery_code: str | None = None,
    ) -> Refused | None: ...  # fmt: skip
    # the account lifecycle (contract section 7); emails are read with `mail_mark` and `mail`
    def mail_mark(self) -> int: ...  # the newest email so far
    def mail(self, kind: str, to: str, since: int, *, expect: bool) -> str | None: ...  # its text
    def change_email(self, token: str, is_api_key: bool, new_email: str) -> Refused | None: ...
    def confirm_email(self, token: str) -> str | Refused: ...
    def revert_email(self, token: str) -> Refused | None: ...
    def delete_account(self, token: str, is_api_key: bool, confirm: bool) -> Refused | None: ...
    def restore_account(self, token: str, remember: bool) -> Outcome: ...


def totp_step(when: datetime) -> int:
    """The RFC 6238 step (30 s) of a time."""
    return int(when.timestamp()) // 30


class ServiceDriver:
    """The use cases of `frontdesk.service`, called as the HTTP edge calls them, on a frozen clock.

    Where the edge adds a rule of its own (a caller must authenticate; managing factors needs a fresh
    browser session, `web/deps.Fresh`), this driver asks the same service rule, so both answer alike.
    """

    def __init__(self, database_url: str) -> None:
        empty_database(database_url)
        self.clock = FrozenClock(START)
        self.fd = Frontdesk(fast_settings(database_url, **NO_LIMITS), clock=self.clock)
        self.ctx = RequestContext(ip_address="203.0.113.7", user_agent="model")
        self.admin_id: int | None = None
        self.time_slack = 1.0  # the frozen clock: only the rounding to whole seconds

    def now(self) -> datetime:
        return self.clock.now()

    def totp_now(self) -> datetime:
        return self.clock.now()

    def advance(self, delta: timedelta) -> None:
        self.fd.flush_touches()
        self.clock.advance(delta)

    def close(self) -> None:
        self.fd.close()

    # --- helpers ---------------------------------------------------------------------------------

    def _signed(self, run: Callable[[], AuthResult]) -> Outcome:
        try:
            result = run()
        except SecondFactorRequired as outcome:
            return Challenged(outcome.challenge)
        except FrontdeskError as exc:
            return Refused(code_for(exc).value)
        return Signed(result.issued.token, result.issued.session.id, result.user.id, result.issued.session.long_lived)

    def _caller(self, token: str, is_api_key: bool) -> Principal | None:
        principal = self.fd.read(sessions.authenticate, token, is_api_key=is_api_key)
        self.fd.flush_touches()
        return principal

    def _email_token(self, kind: str, to: str, before: int) -> str | None:
        found = [e for e in outbox(self.fd, kind, to) if e.id > before]
        return token_from(found[-1]) if found else None

    def _last_email_id(self) -> int:
        every = outbox(self.fd)
        return every[-1].id if every else 0

    # --- operations ------------------------------------------------------------------------------

    def sign_up(self, email: str, username: str, password: str) -> Outcome:
        before = self._last_email_id()
        try:
            self.fd.call(
                signup.request_signup, email=email, username=username, password=password, name=username, ctx=self.ctx
            )
        except FrontdeskError as exc:
            return Refused(code_for(exc).value)
        token = self._email_token("signup_confirm", email, before)
        if token is None:
            return Refused("no_email")
        return self._signed(lambda: self.fd.call(signup.confirm_signup, token, self.ctx))

    def make_admin(self, email: str, username: str, password: str) -> int:
        user = self.fd.call(
            accounts.create_user,
            email=email,
            username=username,
            password=password,
            name=username,
            ctx=self.ctx,
            is_superuser=True,
        )
        self.admin_id = user.id
        return user.id

    def log_in(self, login_name: str, password: str, remember: bool) -> Outcome:
        return self._signed(lambda: self.fd.call(login.login_with_password, login_name, password, remember, self.ctx))

    def request_link(self, purpose: str, email: str, login_name: str, *, expect: bool) -> str | None:
        before = self._last_email_id()
        use_case = login.request_login_link if purpose == "login" else reset.request_password_reset
        self.fd.call(use_case, login_name, self.ctx)
        return self._email_token(LINK_KINDS[purpose], email, before)

    def use_login_link(self, token: str, remember: bool) -> Outcome:
        return self._signed(lambda: self.fd.call(login.consume_login_link, token, remember, self.ctx))

    def use_reset_link(self, token: str, new_password: str, keep_api_keys: bool) -> Outcome:
        return self._signed(
            lambda: self.fd.call(
                reset.complete_password_reset, token, new_password, self.ctx, keep_api_keys=keep_api_keys
            )
        )

    def second_step(self, challenge: str, *, totp: str | None = None, recovery_code: str | None = None) -> Outcome:
        return self._signed(
            lambda: self.fd.call(
                second_factor.complete_second_factor, challenge, self.ctx, totp_code=totp, recovery_code=recovery_code
            )
        )

    def check(self, token: str, is_api_key: bool) -> Answer | None:
        principal = self._caller(token, is_api_key)
        if principal is None:
            return None
        return Answer(
            principal.user_id, principal.session_id, principal.aal, int(principal.authenticated_at.timestamp())
        )

    def log_out(self, token: str) -> None:
        principal = self._caller(token, False)
        if principal is not None:
            self.fd.call(sessions.end_current_session, principal, self.ctx)

    def _as_caller(
        self, token: str, is_api_key: bool, run: Callable[[Principal], object], *, fresh: bool = False
    ) -> object:
        principal = self._caller(token, is_api_key)
        if principal is None:
            return Refused("unauthenticated")
        try:
            if fresh:  # the edge's `Fresh` dependency (web/deps.py)
                freshness.ensure_fresh(self.fd.deps, principal)
            return run(principal)
        except FrontdeskError as exc:
            return Refused(code_for(exc).value)

    def create_key(self, token: str, is_api_key: bool, password: str) -> NewKey | Refused:
        def run(p: Principal) -> NewKey:
            issued = self.fd.call(sessions.create_api_key, p, password, "model key", API_KEY_DAYS, self.ctx)
            return NewKey(issued.token, issued.session.id)

        answer = self._as_caller(token, is_api_key, run)
        assert isinstance(answer, NewKey | Refused)
        return answer

    def revoke(self, token: str, is_api_key: bool, session_id: int) -> Refused | None:
        answer = self._as_caller(
            token, is_api_key, lambda p: self.fd.call(sessions.revoke_session, p, session_id, self.ctx) and None
        )
        return answer if isinstance(answer, Refused) else None

    def revoke_others(self, token: str, is_api_key: bool) -> Refused | None:
        answer = self._as_caller(token, is_api_key, lambda p: self.fd.call(sessions.revoke_other_sessions, p, self.ctx))
        return answer if isinstance(answer, Refused) else None

    def change_password(self, token: str, is_api_key: bool, old: str, new: str, keep_api_keys: bool) -> Refused | None:
        answer = self._as_caller(
            token,
            is_api_key,
            lambda p: self.fd.call(accounts.change_password, p, old, new, self.ctx, keep_api_keys=keep_api_keys),
        )
        return answer if isinstance(answer, Refused) else None

    def set_banned(self, user_id: int, banned: bool) -> None:
        self.fd.call(accounts.set_banned, user_id, banned, self.ctx, actor_id=self.admin_id)

    def begin_totp(self, token: str, is_api_key: bool) -> str | Refused:
        answer = self._as_caller(
            token,
            is_api_key,
            lambda p: self.fd.call(totp.begin_totp_enrolment, p.user_id, self.ctx).secret,
            fresh=True,
        )
        assert isinstance(answer, str | Refused)
        return answer

    def confirm_totp(self, token: str, is_api_key: bool, code: str) -> Enrolled | Refused:
        answer = self._as_caller(
            token,
            is_api_key,
            lambda p: self._confirmed(p, code),
            fresh=True,
        )
        assert isinstance(answer, Enrolled | Refused)
        return answer

    def _confirmed(self, principal: Principal, code: str) -> Enrolled:
        """As the edge: the code that confirms the app proves it in the caller's session too."""
        codes = self.fd.call(totp.confirm_totp, principal.user_id, code, self.ctx)
        self.fd.call(reauth.proved_in_session, principal, "totp")
        return Enrolled(codes)

    def remove_totp(self, token: str, is_api_key: bool) -> Refused | None:
        answer = self._as_caller(
            token, is_api_key, lambda p: self.fd.call(totp.remove_totp, p.user_id, self.ctx), fresh=True
        )
        return answer if isinstance(answer, Refused) else None

    def reauthenticate(
        self,
        token: str,
        is_api_key: bool,
        *,
        password: str | None = None,
        totp: str | None = None,
        recovery_code: str | None = None,
    ) -> Refused | None:
        answer = self._as_caller(
            token,
            is_api_key,
            lambda p: self.fd.call(
                reauth.reauthenticate,
                p,
                self.ctx,
                password=password,
                totp_code=totp,
                recovery_code=recovery_code,
            ),
        )
        return answer if isinstance(answer, Refused) else None

    # --- the account lifecycle -------------------------------------------------------------------

    def mail_mark(self) -> int:
        return self._last_email_id()

    def mail(self, kind: str, to: str, since: int, *, expect: bool) -> str | None:
        found = [e for e in outbox(self.fd, kind, to) if e.id > since]
        return found[-1].text_body if found else None

    def _done(self, run: Callable[[], object]) -> Refused | None:
        try:
            run()
        except FrontdeskError as exc:
            return Refused(code_for(exc).value)
        return None

    def change_email(self, token: str, is_api_key: bool, new_email: str) -> Refused | None:
        answer = self._as_caller(
            token,
            is_api_key,
            lambda p: self.fd.call(email_change.request_email_change, p, new_email, self.ctx),
            fresh=True,
        )
        return answer if isinstance(answer, Refused) else None

    def confirm_email(self, token: str) -> str | Refused:
        try:
            return self.fd.call(email_change.confirm_email_change, token, self.ctx)
        except FrontdeskError as exc:
            return Refused(code_for(exc).value)

    def revert_email(self, token: str) -> Refused | None:
        return self._done(lambda: self.fd.call(email_change.revert_email_change, token, self.ctx))

    def delete_account(self, token: str, is_api_key: bool, confirm: bool) -> Refused | None:
        def run(p: Principal) -> None:
            if not confirm:  # the edge's check, after its `Fresh` dependency (web/api/lifecycle.py)
                raise MustConfirm()
            self.fd.call(deletion.delete_own_account, p, self.ctx)

        answer = self._as_caller(token, is_api_key, run, fresh=True)
        return answer if isinstance(answer, Refused) else None

    def restore_account(self, token: str, remember: bool) -> Outcome:
        return self._signed(lambda: self.fd.call(deletion.restore_account, token, remember, self.ctx))
