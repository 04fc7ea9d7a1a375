"""The contract as a Hypothesis state machine: rules are the contract's operations, the reference
model (`tests/model/model.py`) says what each must answer, and an invariant checks every known
credential after every step. A subclass picks the driver (service layer or live server).

Choices among users, credentials, links and challenges are drawn as plain integers taken modulo
the list's length, so a failing run shrinks to the first of each (the shortest, simplest story).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pyotp
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.model.drivers import Challenged, Driver, Enrolled, NewKey, Refused, Signed, totp_step
from tests.model.model import (
    DELETION_GRACE,
    EMAIL_CHANGE_TTL,
    EMAIL_REVERT_TTL,
    LOGIN_LINK_TTL,
    RESET_TTL,
    SIGN_IN_LINKS,
    Answer,
    MChallenge,
    MCred,
    MLink,
    Model,
    MUser,
    assurance_level,
)

PASSWORDS = ("lunar tractor amber", "violet harbour pine", "copper meadow falcon", "quiet orbit lantern")
WRONG_PASSWORD = "not the password at all"
ADMIN_PASSWORD = "admin walrus juniper 7"
# steps of the clock: within and just past each lifetime of the contract
CLOCK_STEPS = (
    timedelta(minutes=1),
    timedelta(minutes=6),  # past a second-factor challenge (5 min)
    timedelta(minutes=11),  # past a sign-in link (10 min)
    timedelta(hours=2, minutes=1),  # past a reset link (2 h)
    timedelta(hours=100),  # within the idle limit (168 h) ...
    timedelta(hours=169),  # ... and past it
    timedelta(days=31),  # past an API key (30 days in the model)
    timedelta(days=731),  # past every session (730 days)
)
pick = st.integers(min_value=0, max_value=10**6)


def link_token(body: str | None) -> str:
    """The token of an emailed link (the body as `tests/mailbox.token_from` reads it)."""
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", body or "")
    assert match, f"no token link in {body!r}"
    return match.group(1)


def wrong_code(secret: str, step: int) -> str:
    """Six digits that are none of the codes the server accepts now (steps ±1)."""
    accepted = {pyotp.TOTP(secret).generate_otp(s) for s in (step - 1, step, step + 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)


class ContractMachine(RuleBasedStateMachine):
    """One rule set, one model; `make_driver` is the subclass's."""

    def make_driver(self) -> Driver:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.driver = self.make_driver()
        self.serial = 0

    def teardown(self) -> None:
        self.driver.close()

    # --- helpers ---------------------------------------------------------------------------------

    def _decide(self, test: Callable[[datetime], bool], t0: datetime, t1: datetime) -> bool | None:
        """The model's answer over the request's time window: None when it changes within it
        (a live server's clock runs while the request travels; either answer is then right)."""
        before, after = test(t0), test(t1)
        return before if before == after else None

    def _expect_refused(self, got: object, code: str) -> None:
        assert isinstance(got, Refused) and got.code == code, f"expected {code}, got {got!r}"

    def _user(self, i: int) -> MUser:
        users = [u for u in self.model.users.values()]
        return users[i % len(users)]

    def _cred(self, i: int) -> MCred:
        """A credential: even `i` picks among those the model says are valid (when there are any),
        so most calls are made by someone signed in; odd `i` picks among all, dead ones included."""
        now = self.driver.now()
        live = [c for c in self.model.creds if self.model.cred_valid(c, now)]
        pool = live if live and i % 2 == 0 else self.model.creds
        return pool[(i // 2) % len(pool)]

    def _signed_in(
        self, got: object, user: MUser, *, long_lived: bool, factors: tuple[str, ...], now: datetime
    ) -> None:
        assert isinstance(got, Signed), f"expected a new session, got {got!r}"
        assert got.user_id == user.user_id
        assert got.long_lived == long_lived
        self.model.add_session(got.token, got.session_id, user, long_lived=long_lived, factors=factors, now=now)

    def _fresh(self, cred: MCred, got: object, t0: datetime, t1: datetime) -> bool:
        """A sensitive action (contract section 6): True when the model says the caller's session is
        fresh; else the refusal is checked (403 `forbidden` for an API key, 403
        `reauthentication_required` for a stale session) and False."""
        if cred.is_api_key:
            self._expect_refused(got, "forbidden")
            return False
        fresh = self._decide(lambda t: self.model.fresh(cred, t), t0, t1)
        if fresh is None:
            fresh = not (isinstance(got, Refused) and got.code == "reauthentication_required")
        if not fresh:
            self._expect_refused(got, "reauthentication_required")
        return fresh

    def _caller_valid(self, cred: MCred, t0: datetime, t1: datetime) -> bool | None:
        return self._decide(lambda t: self.model.cred_valid(cred, t), t0, t1)

    def _touched(self, cred: MCred, now: datetime) -> None:
        """A request with a valid credential moves its last use."""
        if self.model.cred_valid(cred, now):
            cred.last_seen = now

    def _first_factor(
        self,
        got: object,
        user: MUser,
        *,
        remember: bool,
        now: datetime,
        purpose: str,
        first_factor: str,
        new_password: str | None = None,
        keep_api_keys: bool = False,
    ) -> None:
        """A first factor succeeded: a session (aal 1), or a challenge for a user with a second factor."""
        if user.has_second_factor:
            assert isinstance(got, Challenged), f"expected mfa_required, got {got!r}"
            self.model.challenges.append(
                MChallenge(
                    got.challenge, purpose, user.username, first_factor, remember, now, new_password, keep_api_keys
                )
            )
        else:
            self._signed_in(got, user, long_lived=remember, factors=(first_factor,), now=now)

    # --- setup -----------------------------------------------------------------------------------

    @initialize()
    def admin_and_first_member(self) -> None:
        """An administrator, kept out of the model's users (it bans, it is never banned), and a first
        member with a browser session and an API key, so short runs start where the rules bite."""
        self.admin_id = self.driver.make_admin("root@example.com", "rootadmin", ADMIN_PASSWORD)
        self.sign_up()
        first = self.model.creds[0]
        self.create_key(0, right=True)
        assert any(c.is_api_key for c in self.model.creds), f"no API key for {first!r}"

    # --- accounts --------------------------------------------------------------------------------

    @precondition(lambda self: len(self.model.users) < 4)
    @rule()
    def sign_up(self) -> None:
        self.serial += 1
        username = f"member{self.serial}"
        email = f"{username}@example.com"
        now = self.driver.now()
        got = self.driver.sign_up(email, username, PASSWORDS[0])
        assert isinstance(got, Signed), f"sign-up failed: {got!r}"
        user = MUser(got.user_id, username, email, PASSWORDS[0])
        self.model.users[username] = user
        # the confirmation link proves the email address: a first factor (contract section 6)
        self._signed_in(got, user, long_lived=False, factors=("email_link",), now=now)

    @precondition(lambda self: self.model.users)
    @rule(i=pick, remember=st.booleans(), right=st.booleans(), by_email=st.booleans())
    def log_in(self, i: int, remember: bool, right: bool, by_email: bool) -> None:
        user = self._user(i)
        password = user.password if right else WRONG_PASSWORD
        now = self.driver.now()
        got = self.driver.log_in(user.email.upper() if by_email else user.username, password, remember)
        if not right or user.deleted:  # a deleted account answers as no account at all
            self._expect_refused(got, "invalid_credentials")
        elif user.banned:
            self._expect_refused(got, "account_suspended")
        else:
            self._first_factor(got, user, remember=remember, now=now, purpose="login", first_factor="password")

    @precondition(lambda self: self.model.users)
    @rule(i=pick, purpose=st.sampled_from(["login", "reset"]))
    def request_link(self, i: int, purpose: str) -> None:
        user = self._user(i)
        now = self.driver.now()
        barred = user.banned or user.deleted
        token = self.driver.request_link(purpose, user.email, user.username, expect=not barred)
        if barred:
            assert token is None, "a banned or deleted user was emailed a link"
            return
        assert token is not None, f"no {purpose} link was emailed"
        ttl = LOGIN_LINK_TTL if purpose == "login" else RESET_TTL
        self.model.links.append(MLink(token, purpose, user.username, now, now + ttl))

    def _use_link(
        self, link: MLink, run: Callable[[], object], *, barred: bool | None = None
    ) -> tuple[object, datetime, bool]:
        """Use a link; the answer, the time, and whether the model says the link was usable.
        `barred` (default: the user is banned or deleted) refuses a usable link, and rolls back."""
        user = self.model.users[link.username]
        t0 = self.driver.now()
        got = run()
        t1 = self.driver.now()
        usable = self._decide(lambda t: self.model.link_valid(link, t), t0, t1)
        if usable is None:
            usable = not isinstance(got, Refused)
        if usable and (user.banned or user.deleted if barred is None else barred):
            # refused, and the refusal rolls back: the link stays unused (the code's choice; docs/testing.md)
            self._expect_refused(got, "invalid_token")
            return got, t1, False
        if not usable:
            self._expect_refused(got, "invalid_token")
            return got, t1, False
        link.used = True
        return got, t1, True

    @precondition(lambda self: any(link.purpose == "login" for link in self.model.links))
    @rule(i=pick, remember=st.booleans())
    def use_login_link(self, i: int, remember: bool) -> None:
        links = [link for link in self.model.links if link.purpose == "login"]
        link = links[i % len(links)]
        user = self.model.users[link.username]
        got, now, ok = self._use_link(link, lambda: self.driver.use_login_link(link.token, remember))
        if ok:
            self._first_factor(got, user, remember=remember, now=now, purpose="login", first_factor="email_link")

    @precondition(lambda self: any(link.purpose == "reset" for link in self.model.links))
    @rule(i=pick, new=st.sampled_from(PASSWORDS), keep=st.booleans())
    def use_reset_link(self, i: int, new: str, keep: bool) -> None:
        links = [link for link in self.model.links if link.purpose == "reset"]
        link = links[i % len(links)]
        user = self.model.users[link.username]
        got, now, ok = self._use_link(link, lambda: self.driver.use_reset_link(link.token, new, keep))
        if not ok:
            return
        if user.has_second_factor:
            self._first_factor(
                got, user, remember=False, now=now, purpose="reset", first_factor="email_link",
                new_password=new, keep_api_keys=keep,
            )  # fmt: skip
            return
        self._apply_reset(user, new, keep, now)
        self._signed_in(got, user, long_lived=False, factors=("email_link",), now=now)

    def _apply_reset(self, user: MUser, new: str, keep: bool, now: datetime) -> None:
        """Contract: every other session ends, API keys too unless keep_api_keys; links end."""
        self.model.set_password(user, new)
        self.model.end_sessions(user, now, cookies_only=keep)

    # --- second factors --------------------------------------------------------------------------

    @precondition(lambda self: self.model.creds)
    @rule(i=pick, confirm=st.sampled_from(["right", "wrong", "skip"]))
    def enrol_totp(self, i: int, confirm: str) -> None:
        cred = self._cred(i)
        user = self.model.users[cred.username]
        answer = self._as_caller(cred, lambda: self.driver.begin_totp(cred.token, cred.is_api_key))
        if answer is None:
            return
        got, t1 = answer
        if not self._fresh(cred, got, t1, t1):
            return
        assert isinstance(got, str), f"expected a TOTP secret, got {got!r}"
        user.pending_secret, user.pending_since = got, t1
        if confirm == "skip":
            return
        step = totp_step(self.driver.totp_now())
        code = pyotp.TOTP(got).generate_otp(step) if confirm == "right" else wrong_code(got, step)
        confirmed = self.driver.confirm_totp(cred.token, cred.is_api_key, code)
        if confirm == "wrong":
            self._expect_refused(confirmed, "invalid_code")
            return
        assert isinstance(confirmed, Enrolled), f"expected the app to be enrolled, got {confirmed!r}"
        first = not user.has_second_factor
        assert (confirmed.recovery_codes is not None) == first, "recovery codes come with the first second factor only"
        if confirmed.recovery_codes is not None:
            assert len(confirmed.recovery_codes) == 10
            user.recovery_codes = set(confirmed.recovery_codes)
        user.totp_secret, user.totp_last_step, user.pending_secret = got, step, None
        # the confirming code proves the app in the caller's session too (fresh, aal 2: the edge's)
        self.model.renew(cred, "totp", self.driver.now(), aal=assurance_level((*cred.factors, "totp")))
        user.totp_since, user.pending_since = user.pending_since, None

    @precondition(lambda self: self.model.creds)
    @rule(i=pick)
    def remove_totp(self, i: int) -> None:
        cred = self._cred(i)
        user = self.model.users[cred.username]
        answer = self._as_caller(cred, lambda: self.driver.remove_totp(cred.token, cred.is_api_key))
        if answer is None:
            return
        got, t1 = answer
        if not self._fresh(cred, got, t1, t1):
            return
        if user.totp_secret is None and user.pending_secret is None:
            self._expect_refused(got, "not_found")
        else:
            assert got is None, f"expected the app removed, got {got!r}"
            user.totp_secret = user.pending_secret = user.totp_last_step = None
            user.totp_since = user.pending_since = None
            user.recovery_codes = set()  # the last second factor takes the recovery codes

    @precondition(lambda self: self.model.creds)
    @rule(i=pick, how=st.sampled_from(["password", "wrong_password", "totp", "recovery"]))
    def reauthenticate(self, i: int, how: str) -> None:
        """`POST /v1/reauthenticate`: a password (only without a second factor) or a second factor."""
        cred = self._cred(i)
        user = self.model.users[cred.username]
        secret = user.totp_secret
        step = totp_step(self.driver.totp_now())
        recovery = sorted(user.recovery_codes)[0] if user.recovery_codes else None
        if how == "recovery" and recovery is None:
            how = "totp"
        kwargs: dict[str, str] = {}
        if how in ("password", "wrong_password"):
            kwargs["password"] = user.password if how == "password" else WRONG_PASSWORD
        elif how == "recovery":
            kwargs["recovery_code"] = recovery or ""
        else:
            kwargs["totp"] = (
                pyotp.TOTP(secret).generate_otp(step) if secret else wrong_code(pyotp.random_base32(), step)
            )
        answer = self._as_caller(cred, lambda: self.driver.reauthenticate(cred.token, cred.is_api_key, **kwargs))
        if answer is None:
            return
        got, t1 = answer
        if cred.is_api_key:
            self._expect_refused(got, "forbidden")
        elif how in ("password", "wrong_password") and user.has_second_factor:
            self._expect_refused(got, "reauthentication_required")  # a password alone is not enough
        elif how == "wrong_password":
            self._expect_refused(got, "invalid_credentials")
        elif how == "password":
            assert got is None, f"expected a re-authentication, got {got!r}"
            self.model.renew(cred, "password", t1)
        elif how == "totp" and not (secret is not None and (user.totp_last_step or -1) < step):
            self._expect_refused(got, "invalid_code")
        else:
            assert got is None, f"expected a re-authentication, got {got!r}"
            method = "totp" if how == "totp" else "recovery_code"
            if how == "totp":
                user.totp_last_step = step
            else:
                user.recovery_codes.discard(recovery or "")
            self.model.renew(cred, method, t1, aal=assurance_level((*cred.factors, method)))

    @precondition(lambda self: self.model.challenges)
    @rule(i=pick, how=st.sampled_from(["totp", "wrong", "recovery"]))
    def second_step(self, i: int, how: str) -> None:
        challenge = self.model.challenges[i % len(self.model.challenges)]
        user = self.model.users[challenge.username]
        secret = user.totp_secret
        t0 = self.driver.now()
        step = totp_step(self.driver.totp_now())
        recovery = sorted(user.recovery_codes)[0] if user.recovery_codes else None
        if how == "recovery" and recovery is None:
            how = "wrong"
        if how == "totp" and secret is not None:
            got = self.driver.second_step(challenge.token, totp=pyotp.TOTP(secret).generate_otp(step))
        elif how == "recovery":
            got = self.driver.second_step(challenge.token, recovery_code=recovery)
        else:
            got = self.driver.second_step(challenge.token, totp=wrong_code(secret or pyotp.random_base32(), step))
        t1 = self.driver.now()
        is_open = self._decide(lambda t: self.model.challenge_open(challenge, t), t0, t1)
        if is_open is None:
            is_open = not (isinstance(got, Refused) and got.code == "invalid_token")
        if not is_open:
            self._expect_refused(got, "invalid_token")
            return
        proves = (how == "totp" and secret is not None and (user.totp_last_step or -1) < step) or how == "recovery"
        if not proves:
            challenge.attempts += 1  # counted before the check, kept after the failure
            self._expect_refused(got, "invalid_code")
            return
        if user.banned or user.deleted:
            self._expect_refused(got, "invalid_token")  # refused and rolled back: nothing used
            return
        challenge.used = True
        method = "totp" if how == "totp" else "recovery_code"
        if how == "totp":
            user.totp_last_step = step
        else:
            user.recovery_codes.discard(recovery or "")
        if challenge.purpose == "reset":
            assert challenge.new_password is not None
            self._apply_reset(user, challenge.new_password, challenge.keep_api_keys, t1)
            self._signed_in(got, user, long_lived=False, factors=(challenge.first_factor, method), now=t1)
        else:
            self._signed_in(got, user, long_lived=challenge.remember, factors=(challenge.first_factor, method), now=t1)

    # --- sessions and keys -----------------------------------------------------------------------

    def _as_caller(self, cred: MCred, run: Callable[[], object]) -> tuple[object, datetime] | None:
        """Call as `cred`: None (after checking the 401) when the model says it is not valid."""
        t0 = self.driver.now()
        got = run()
        t1 = self.driver.now()
        valid = self._caller_valid(cred, t0, t1)
        if valid is None:
            valid = not (isinstance(got, Refused) and got.code == "unauthenticated")
        if not valid:
            self._expect_refused(got, "unauthenticated")
            return None
        self._touched(cred, t0)
        return got, t1

    @precondition(lambda self: self.model.creds)
    @rule(i=pick, right=st.booleans())
    def create_key(self, i: int, right: bool) -> None:
        cred = self._cred(i)
        user = self.model.users[cred.username]
        answer = self._as_caller(
            cred,
            lambda: self.driver.create_key(cred.token, cred.is_api_key, user.password if right else WRONG_PASSWORD),
        )
        if answer is None:
            return
        got, now = answer
        if cred.is_api_key:
            self._expect_refused(got, "forbidden")
            return
        if not self._password_counts(cred, user, got, now, right):
            return
        assert isinstance(got, NewKey), f"expected a new API key, got {got!r}"
        assert got.token.startswith("fdk_")
        self.model.add_key(got.token, got.session_id, user, now)

    def _password_counts(self, cred: MCred, user: MUser, got: object, now: datetime, right: bool) -> bool:
        """`/v1/password` and `/v1/api-keys` check the caller's password anyway: a fresh session
        goes ahead; a stale one (or an API key) only for a user without a second factor, and the
        right password then re-authenticates the session. False (refusal checked) otherwise."""
        fresh = self._decide(lambda t: self.model.fresh(cred, t), now, now)
        if fresh is None:
            fresh = not (isinstance(got, Refused) and got.code == "reauthentication_required")
        if not fresh and user.has_second_factor:
            self._expect_refused(got, "reauthentication_required")
            return False
        if not right:
            self._expect_refused(got, "invalid_credentials")
            return False
        if not fresh:
            self.model.renew(cred, "password", now)
        return True

    @precondition(lambda self: self.model.creds)
    @rule(i=pick, j=pick)
    def revoke(self, i: int, j: int) -> None:
        cred, target = self._cred(i), self._cred(j)
        answer = self._as_caller(cred, lambda: self.driver.revoke(cred.token, cred.is_api_key, target.session_id))
        if answer is None:
            return
        got, now = answer
        if target is cred:
            self._expect_refused(got, "cannot_delete_current_session")
            return
        mine = target.username == cred.username
        live = self._decide(lambda t: self.model.cred_valid(target, t), now, now)
        if not mine or not live:
            self._expect_refused(got, "not_found")
            return
        assert got is None, f"expected the session revoked, got {got!r}"
        target.ended = True

    @precondition(lambda self: self.model.creds)
    @rule(i=pick)
    def revoke_others(self, i: int) -> None:
        cred = self._cred(i)
        answer = self._as_caller(cred, lambda: self.driver.revoke_others(cred.token, cred.is_api_key))
        if answer is None:
            return
        got, now = answer
        assert got is None, f"expected the other sessions revoked, got {got!r}"
        self.model.end_sessions(self.model.users[cred.username], now, except_id=cred.session_id, cookies_only=True)

    @precondition(lambda self: any(not c.is_api_key for c in self.model.creds))
    @rule(i=pick)
    def log_out(self, i: int) -> None:
        cookies = [c for c in self.model.creds if not c.is_api_key]
        cred = cookies[i % len(cookies)]
        self.driver.log_out(cred.token)
        cred.ended = True  # a no-op when it was no longer valid

    @precondition(lambda self: self.model.creds)
    @rule(i=pick, right=st.booleans(), new=st.sampled_from(PASSWORDS), keep=st.booleans())
    def change_password(self, i: int, right: bool, new: str, keep: bool) -> None:
        cred = self._cred(i)
        user = self.model.users[cred.username]
        old = user.password if right else WRONG_PASSWORD
        answer = self._as_caller(cred, lambda: self.driver.change_password(cred.token, cred.is_api_key, old, new, keep))
        if answer is None:
            return
        got, now = answer
        if not self._password_counts(cred, user, got, now, right):
            return
        assert got is None, f"expected the password changed, got {got!r}"
        self.model.set_password(user, new)
        self.model.end_sessions(user, now, except_id=cred.session_id, cookies_only=keep)

    # --- administration --------------------------------------------------------------------------

    @precondition(lambda self: self.model.users)
    @rule(i=pick, banned=st.booleans())
    def ban(self, i: int, banned: bool) -> None:
        user = self._user(i)
        now = self.driver.now()
        self.driver.set_banned(user.user_id, banned)
        user.banned = banned
        if banned:  # every session and key ends for good: an unban brings none back
            self.model.end_sessions(user, now)

    # --- time ------------------------------------------------------------------------------------

    @rule(delta=st.sampled_from(CLOCK_STEPS))
    def time_passes(self, delta: timedelta) -> None:
        self.driver.advance(delta)

    # --- the invariant ---------------------------------------------------------------------------

    @precondition(lambda self: self.model.creds)
    @rule(i=pick)
    def present_the_other_way(self, i: int) -> None:
        """A cookie token sent as a bearer key (or a key as a cookie) matches nothing."""
        cred = self._cred(i)
        assert self.driver.check(cred.token, not cred.is_api_key) is None, f"{cred!r} worked presented the other way"

    @invariant()
    def every_credential_answers_as_the_model_says(self) -> None:
        for cred in self.model.creds:
            t0 = self.driver.now()
            got = self.driver.check(cred.token, cred.is_api_key)
            t1 = self.driver.now()
            before, after = self.model.expected(cred, t0), self.model.expected(cred, t1)
            slack = self.driver.time_slack
            if _matches(before, got, slack) or _matches(after, got, slack):
                pass
            elif before == after:
                raise AssertionError(f"{cred!r}: expected {before}, got {got}")
            else:
                raise AssertionError(f"{cred!r}: expected {before} or {after}, got {got}")
            if got is not None:
                cred.last_seen = t1

    # --- the account lifecycle (contract section 7) -------------------------------------------

    @precondition(lambda self: self.model.creds)
    @rule(i=pick, j=pick, to_taken=st.booleans())
    def change_email(self, i: int, j: int, to_taken: bool) -> None:
        """`POST /v1/email` (a fresh session), to a fresh address or to another user's: the current
        address gets the same notice; only a fresh one gets a confirm link (24 h), replacing a
        pending one. A taken address changes nothing, and its owner is told."""
        cred = self._cred(i)
        user = self.model.users[cred.username]
        others = [u for u in self.model.users.values() if u is not user]
        owner = others[j % len(others)] if to_taken and others else None
        if owner is None:
            self.serial += 1
        new = owner.email if owner else f"moved{self.serial}@example.com"
        mark = self.driver.mail_mark()
        answer = self._as_caller(cred, lambda: self.driver.change_email(cred.token, cred.is_api_key, new))
        if answer is None:
            return
        got, t1 = answer
        if not self._fresh(cred, got, t1, t1):
            return
        assert got is None, f"expected 202, got {got!r}"
        assert self.driver.mail("email_change_requested", user.email, mark, expect=True), "no notice to the old address"
        confirm = self.driver.mail("email_change_confirm", new, mark, expect=owner is None)
        if owner is not None:
            assert confirm is None, "a confirm link went to another account's address"
            assert self.driver.mail("email_change_taken", new, mark, expect=True), "the owner was not told"
            return
        self.model.end_links(user, ("email_change",))
        self.model.links.append(
            MLink(link_token(confirm), "email_change", user.username, t1, t1 + EMAIL_CHANGE_TTL, email=new)
        )

    @precondition(lambda self: any(link.purpose == "email_change" for link in self.model.links))
    @rule(i=pick)
    def confirm_email_change(self, i: int) -> None:
        """`POST /v1/email/confirm`: the new address is the account's (login by email and links go
        there), the sign-in, reset and email-change links sent before end, and the old address
        gets a single-use undo link (7 days)."""
        links = [link for link in self.model.links if link.purpose == "email_change"]
        link = links[i % len(links)]
        user = self.model.users[link.username]
        assert link.email is not None
        old = user.email
        mark = self.driver.mail_mark()
        got, now, ok = self._use_link(link, lambda: self.driver.confirm_email(link.token))
        if not ok:
            return
        assert got == link.email, f"expected the new address, got {got!r}"
        user.former_emails.add(old)
        user.email = link.email
        user.former_emails.discard(user.email)
        self.model.end_links(user, (*SIGN_IN_LINKS, "email_change"))
        undo = self.driver.mail("email_changed", old, mark, expect=True)
        self.model.links.append(
            MLink(
                link_token(undo), "email_revert", user.username, now, now + EMAIL_REVERT_TTL,
                email=old, password=user.password,
            )
        )  # fmt: skip

    @precondition(lambda self: any(link.purpose == "email_revert" for link in self.model.links))
    @rule(i=pick)
    def revert_email_change(self, i: int) -> None:
        """`POST /v1/email/revert`: the old address is back; every session and API key ends, every
        outstanding sign-in, reset, email-change and restore link and every undo link newer than
        this one; the ways in added since the change go; the old address gets a reset link (a
        restore link if the account was deleted since). Works for a deleted account, not a
        banned one."""
        links = [link for link in self.model.links if link.purpose == "email_revert"]
        link = links[i % len(links)]
        user = self.model.users[link.username]
        assert link.email is not None and link.password is not None
        mark = self.driver.mail_mark()
        got, now, ok = self._use_link(link, lambda: self.driver.revert_email(link.token), barred=user.banned)
        if not ok:
            return
        assert got is None, f"expected 204, got {got!r}"
        if user.email != link.email:
            user.former_emails.add(user.email)
            user.email = link.email
            user.former_emails.discard(user.email)
        user.password = link.password  # the password of the change's time (the code's choice)
        self.model.remove_ways_in_since(user, link.created)
        self.model.end_sessions(user, now)
        newer = self.model.links[self.model.links.index(link) + 1 :]
        for later in newer:
            if later.username == user.username and later.purpose == "email_revert":
                later.used = True
        self.model.end_links(user, (*SIGN_IN_LINKS, "email_change", "restore"))
        if user.deleted:
            assert user.deleted_at is not None
            body = self.driver.mail("account_deleted", user.email, mark, expect=True)
            expiry = user.deleted_at + DELETION_GRACE
            self.model.links.append(MLink(link_token(body), "restore", user.username, now, expiry))
        else:
            body = self.driver.mail("email_reverted", user.email, mark, expect=True)
            self.model.links.append(MLink(link_token(body), "reset", user.username, now, now + RESET_TTL))

    @precondition(lambda self: self.model.creds)
    @rule(i=pick, confirm=st.sampled_from([True, True, True, False]))
    def delete_account(self, i: int, confirm: bool) -> None:
        """`DELETE /v1/account` (a fresh session; `confirm` must be true): every session and API key
        ends now, and every outstanding sign-in, reset, email-change and restore link; the address
        gets a single-use restore link that lives as long as the grace (7 days)."""
        cred = self._cred(i)
        user = self.model.users[cred.username]
        mark = self.driver.mail_mark()
        answer = self._as_caller(cred, lambda: self.driver.delete_account(cred.token, cred.is_api_key, confirm))
        if answer is None:
            return
        got, t1 = answer
        if not self._fresh(cred, got, t1, t1):
            return
        if not confirm:
            self._expect_refused(got, "must_confirm")
            return
        assert got is None, f"expected 202, got {got!r}"
        user.deleted_at = t1
        self.model.end_sessions(user, t1)
        self.model.end_links(user, (*SIGN_IN_LINKS, "email_change", "restore"))
        body = self.driver.mail("account_deleted", user.email, mark, expect=True)
        self.model.links.append(MLink(link_token(body), "restore", user.username, t1, t1 + DELETION_GRACE))

    @precondition(lambda self: any(link.purpose == "restore" for link in self.model.links))
    @rule(i=pick, remember=st.booleans())
    def restore_account(self, i: int, remember: bool) -> None:
        """`POST /v1/account/restore` within the grace: the account is back and signed in by the
        link (a user with a second factor goes on to the second step); the sessions and keys the
        deletion ended stay ended. Refused past the grace, and (rolled back) while banned."""
        links = [link for link in self.model.links if link.purpose == "restore"]
        link = links[i % len(links)]
        user = self.model.users[link.username]
        got, now, ok = self._use_link(
            link, lambda: self.driver.restore_account(link.token, remember), barred=user.banned
        )
        if not ok:
            return
        assert user.deleted, f"a restore link of {user.username} outlived the deletion"
        user.deleted_at = None
        self.model.end_links(user, ("restore",))
        self._first_factor(got, user, remember=remember, now=now, purpose="login", first_factor="email_link")

    def _not_theirs(self) -> list[tuple[MUser, str]]:
        """Addresses an account had, or asked to move to, that no account holds now."""
        pairs = {(link.username, link.email) for link in self.model.links if link.purpose == "email_change"}
        pairs |= {(u.username, e) for u in self.model.users.values() for e in u.former_emails}
        return [
            (self.model.users[name], email)
            for name, email in sorted(pairs)
            if email is not None and self.model.holder(email) is None
        ]

    @precondition(lambda self: self._not_theirs())
    @rule(i=pick)
    def log_in_by_an_address_not_its_own(self, i: int) -> None:
        """Login by email uses the current address only: a former one, or one a change is still
        waiting to confirm, signs nobody in, even with the account's password."""
        candidates = self._not_theirs()
        user, email = candidates[i % len(candidates)]
        self._expect_refused(self.driver.log_in(email, user.password, False), "invalid_credentials")


def _matches(expected: Answer | None, got: Answer | None, slack: float) -> bool:
    return got is None if expected is None else expected.same(got, slack)
