"""The second step: challenges completed once with a TOTP code, a recovery code or a key; passkey sign-in."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from frontdesk.clock import FrozenClock
from frontdesk.errors import (
    AccountSuspended,
    FrontdeskError,
    InvalidCode,
    InvalidCredentials,
    InvalidInput,
    RateLimited,
    SecondFactorRequired,
    TokenInvalid,
)
from frontdesk.models import SecondFactorChallenge, User, UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import check_user_password, set_banned
from frontdesk.service.challenges import CHALLENGE_TTL, require_second_factor
from frontdesk.service.context import RequestContext
from frontdesk.service.recovery import recovery_codes_left
from frontdesk.service.results import AuthResult
from frontdesk.service.second_factor import (
    complete_second_factor,
    login_with_passkey,
    second_step_methods,
    webauthn_authentication_options,
)
from frontdesk.service.totp import begin_totp_enrolment, confirm_totp
from frontdesk.service.webauthn import register_credential, registration_options
from frontdesk.settings import Settings
from frontdesk.store import users as user_store
from tests.factories import PASSWORD, make_session, make_user
from tests.service.authenticator import SoftAuthenticator
from tests.service.racing import N, all_at_once, racing_frontdesk

CTX = RequestContext(ip_address="198.51.100.10", user_agent="pytest")
STEP = timedelta(seconds=30)


class Enrolled:
    """A user with an authenticator app, recovery codes and a security key."""

    def __init__(self, fd: Frontdesk, clock: FrozenClock) -> None:
        self.user = make_user(fd)
        enrolment = fd.call(begin_totp_enrolment, self.user.id, CTX)
        self.totp = pyotp.TOTP(enrolment.secret)
        codes = fd.call(confirm_totp, self.user.id, self.totp.at(clock.now()), CTX)
        assert codes is not None
        self.codes = codes
        self.key = SoftAuthenticator()
        options = fd.call(registration_options, self.user.id)
        fd.call(register_credential, self.user.id, "key", self.key.register(options), CTX)
        clock.advance(STEP)
        self.clock = clock

    def code(self) -> str:
        return self.totp.at(self.clock.now())


def challenge_for(fd: Frontdesk, user: User, **kwargs: object) -> SecondFactorRequired:
    fields: dict[str, object] = {"purpose": "login", "first_factor": "password"}
    fields.update(kwargs)
    return fd.call(require_second_factor, user, CTX, **fields)  # type: ignore[arg-type]


def session_of(fd: Frontdesk, result: AuthResult) -> UserSession:
    with fd.factory() as db:
        row = db.get(UserSession, result.issued.session.id)
        assert row is not None
        return row


@pytest.fixture
def alice(fd: Frontdesk, clock: FrozenClock) -> Enrolled:
    return Enrolled(fd, clock)


def test_a_challenge_names_the_methods_and_hides_its_token(fd: Frontdesk, alice: Enrolled) -> None:
    pending = challenge_for(fd, alice.user)
    assert pending.methods == ["totp", "webauthn", "recovery_code"]
    assert pending.expiry == alice.clock.now() + CHALLENGE_TTL
    assert len(pending.challenge) >= 43  # 256 bits, URL-safe base64
    assert pending.challenge not in repr(pending) and pending.challenge not in str(pending)


def test_totp_completes_a_sign_in_at_aal_2(fd: Frontdesk, alice: Enrolled) -> None:
    pending = challenge_for(fd, alice.user, remember_device=True)
    result = fd.call(complete_second_factor, pending.challenge, CTX, totp_code=alice.code())
    session = session_of(fd, result)
    assert (session.aal, session.factor_list, session.long_lived) == (2, ["password", "totp"], True)
    assert session.authenticated_at == alice.clock.now()
    with pytest.raises(TokenInvalid):  # used once
        fd.call(complete_second_factor, pending.challenge, CTX, totp_code=alice.code())


def test_a_recovery_code_completes_a_sign_in_and_is_used_up(fd: Frontdesk, alice: Enrolled) -> None:
    pending = challenge_for(fd, alice.user, first_factor="email_link")
    result = fd.call(complete_second_factor, pending.challenge, CTX, recovery_code=alice.codes[0])
    assert session_of(fd, result).factor_list == ["email_link", "recovery_code"]
    assert fd.read(recovery_codes_left, alice.user.id) == 9
    again = challenge_for(fd, alice.user)
    with pytest.raises(InvalidCode):
        fd.call(complete_second_factor, again.challenge, CTX, recovery_code=alice.codes[0])


def test_a_security_key_completes_a_sign_in(fd: Frontdesk, alice: Enrolled) -> None:
    pending = challenge_for(fd, alice.user)
    options = fd.call(webauthn_authentication_options, pending.challenge)
    answer = alice.key.assertion(options, user_verified=False)
    result = fd.call(complete_second_factor, pending.challenge, CTX, webauthn_response=answer)
    assert session_of(fd, result).factor_list == ["password", "webauthn"]


def test_a_key_answer_for_another_challenge_does_not_count(fd: Frontdesk, alice: Enrolled) -> None:
    first, second = challenge_for(fd, alice.user), challenge_for(fd, alice.user)
    answer = alice.key.assertion(fd.call(webauthn_authentication_options, first.challenge))
    with pytest.raises(InvalidCode):
        fd.call(complete_second_factor, second.challenge, CTX, webauthn_response=answer)


def test_options_need_an_open_challenge(fd: Frontdesk, alice: Enrolled) -> None:
    with pytest.raises(TokenInvalid):
        fd.call(webauthn_authentication_options, "no-such-challenge")
    assert fd.call(webauthn_authentication_options, None)["userVerification"] == "required"


def test_a_reset_applies_the_new_password_only_after_the_second_step(fd: Frontdesk, alice: Enrolled) -> None:
    other = make_session(fd, alice.user)
    new_hash = fd.deps.hasher.hash("a brand new passphrase")
    pending = challenge_for(fd, alice.user, purpose="reset", first_factor="email_link", new_password_hash=new_hash)

    def password_is(password: str) -> bool:
        return fd.call(lambda db, deps: check_user_password(db, deps, user_store.get(db, alice.user.id), password))

    assert password_is(PASSWORD)
    with pytest.raises(InvalidCode):
        fd.call(complete_second_factor, pending.challenge, CTX, totp_code="000000")
    assert password_is(PASSWORD)
    result = fd.call(complete_second_factor, pending.challenge, CTX, totp_code=alice.code())
    assert password_is("a brand new passphrase")
    assert session_of(fd, result).aal == 2
    with fd.factory() as db:
        ended = db.get(UserSession, other.session.id)
        assert ended is not None and ended.deleted is not None


def test_five_wrong_codes_end_the_challenge(fd: Frontdesk, alice: Enrolled) -> None:
    pending = challenge_for(fd, alice.user)
    right = alice.code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(InvalidCode):
            fd.call(complete_second_factor, pending.challenge, CTX, totp_code=wrong)
    with pytest.raises(TokenInvalid):
        fd.call(complete_second_factor, pending.challenge, CTX, totp_code=right)


def test_failures_count_against_the_account_login_limit(settings: Settings, clock: FrozenClock) -> None:
    strict = settings.model_copy(update={"login_failures_per_account": 3})
    fd = Frontdesk(strict, clock=clock)
    try:
        alice = Enrolled(fd, clock)
        for _ in range(3):
            pending = challenge_for(fd, alice.user)
            with pytest.raises(InvalidCode):
                fd.call(complete_second_factor, pending.challenge, CTX, recovery_code="0000000000000000000000000")
        pending = challenge_for(fd, alice.user)
        with pytest.raises(RateLimited):
            fd.call(complete_second_factor, pending.challenge, CTX, totp_code=alice.code())
    finally:
        fd.close()


def test_a_challenge_expires_after_5_minutes(fd: Frontdesk, alice: Enrolled) -> None:
    pending = challenge_for(fd, alice.user)
    alice.clock.advance(CHALLENGE_TTL + timedelta(seconds=1))
    with pytest.raises(TokenInvalid):
        fd.call(complete_second_factor, pending.challenge, CTX, totp_code=alice.code())


@pytest.mark.parametrize("how", ["none", "two"])
def test_exactly_one_factor_is_given(fd: Frontdesk, alice: Enrolled, how: str) -> None:
    pending = challenge_for(fd, alice.user)
    two = how == "two"
    with pytest.raises(InvalidInput):
        fd.call(
            complete_second_factor,
            pending.challenge,
            CTX,
            totp_code=alice.code() if two else None,
            recovery_code=alice.codes[0] if two else None,
        )


def test_a_banned_user_cannot_finish(fd: Frontdesk, alice: Enrolled) -> None:
    pending = challenge_for(fd, alice.user)
    fd.call(set_banned, alice.user.id, True, CTX, actor_id=None)
    with pytest.raises(TokenInvalid):
        fd.call(complete_second_factor, pending.challenge, CTX, totp_code=alice.code())


def test_a_passkey_signs_in_alone_at_aal_2(fd: Frontdesk, alice: Enrolled) -> None:
    options = fd.call(webauthn_authentication_options, None)
    result = fd.call(login_with_passkey, alice.key.assertion(options), False, CTX)
    session = session_of(fd, result)
    assert (session.aal, session.factor_list, session.long_lived) == (2, ["passkey"], False)
    with pytest.raises(InvalidCredentials):  # its challenge is used up
        fd.call(login_with_passkey, alice.key.assertion(options), False, CTX)
    fd.call(set_banned, alice.user.id, True, CTX, actor_id=None)
    with pytest.raises(AccountSuspended):
        fd.call(login_with_passkey, alice.key.assertion(fd.call(webauthn_authentication_options, None)), False, CTX)


def test_one_challenge_completed_50_times_at_once_makes_one_session(settings: Settings, clock: FrozenClock) -> None:
    with racing_frontdesk(settings, clock) as fd:
        alice = Enrolled(fd, clock)
        pending = challenge_for(fd, alice.user)
        code = alice.code()

        def attempt(i: int) -> str:
            by_code = i % 2 == 1
            try:
                fd.call(
                    complete_second_factor,
                    pending.challenge,
                    CTX,
                    recovery_code=alice.codes[i % 10] if by_code else None,
                    totp_code=None if by_code else code,
                )
            except FrontdeskError as exc:
                return type(exc).__name__
            return "ok"

        results = all_at_once(N, attempt)
        assert results.count("ok") == 1
        assert set(results) <= {"ok", "TokenInvalid"}
        with fd.factory() as db:
            sessions = db.scalar(select(func.count()).select_from(UserSession).where(UserSession.aal == 2))
            used = db.scalar(
                select(SecondFactorChallenge.used_at).where(SecondFactorChallenge.user_id == alice.user.id)
            )
        assert sessions == 1 and used is not None


def test_the_second_step_page_learns_the_methods_without_using_an_attempt(fd: Frontdesk, alice: Enrolled) -> None:
    pending = challenge_for(fd, alice.user)
    for _ in range(6):  # reading counts nothing: more reads than attempts
        assert fd.read(second_step_methods, pending.challenge) == ["totp", "webauthn", "recovery_code"]
    for unknown in ("", "x" * 513, "no-such-challenge"):
        assert fd.read(second_step_methods, unknown) is None
    result = fd.call(complete_second_factor, pending.challenge, CTX, totp_code=alice.code())
    assert result.user.id == alice.user.id
    assert fd.read(second_step_methods, pending.challenge) is None  # used


def test_the_methods_end_with_the_attempts_and_the_lifetime(fd: Frontdesk, alice: Enrolled) -> None:
    spent, expiring = challenge_for(fd, alice.user), challenge_for(fd, alice.user)
    for _ in range(5):
        with pytest.raises(InvalidCode):
            fd.call(complete_second_factor, spent.challenge, CTX, recovery_code="0000000000000000000000000")
    assert fd.read(second_step_methods, spent.challenge) is None
    alice.clock.advance(CHALLENGE_TTL)
    assert fd.read(second_step_methods, expiring.challenge) is not None
    alice.clock.advance(timedelta(microseconds=1))
    assert fd.read(second_step_methods, expiring.challenge) is None


@pytest.mark.parametrize("challenge", ["", "x" * 513])
def test_an_empty_or_over_long_challenge_is_refused(fd: Frontdesk, alice: Enrolled, challenge: str) -> None:
    with pytest.raises(TokenInvalid):
        fd.call(complete_second_factor, challenge, CTX, totp_code=alice.code())


def test_a_code_and_a_key_answer_together_are_refused(fd: Frontdesk, alice: Enrolled) -> None:
    pending = challenge_for(fd, alice.user)
    answer = alice.key.assertion(fd.call(webauthn_authentication_options, pending.challenge))
    with pytest.raises(InvalidInput):
        fd.call(complete_second_factor, pending.challenge, CTX, totp_code=alice.code(), webauthn_response=answer)


@pytest.mark.parametrize("keep", [True, False])
def test_a_reset_finished_by_the_second_step_keeps_api_keys_only_when_asked(
    fd: Frontdesk, alice: Enrolled, keep: bool
) -> None:
    key = make_session(fd, alice.user, is_api_key=True, long_lived=True)
    browser = make_session(fd, alice.user)
    new_hash = fd.deps.hasher.hash("a brand new passphrase")
    pending = challenge_for(
        fd, alice.user, purpose="reset", first_factor="email_link", new_password_hash=new_hash, keep_api_keys=keep
    )
    result = fd.call(complete_second_factor, pending.challenge, CTX, recovery_code=alice.codes[1])
    assert session_of(fd, result).factor_list == ["email_link", "recovery_code"]
    with fd.factory() as db:
        key_row, browser_row = db.get(UserSession, key.session.id), db.get(UserSession, browser.session.id)
        assert key_row is not None and browser_row is not None
        assert (key_row.deleted is None) is keep
        assert browser_row.deleted is not None


def test_a_passkey_of_a_deleted_account_signs_no_one_in(fd: Frontdesk, alice: Enrolled) -> None:
    options = fd.call(webauthn_authentication_options, None)
    with fd.factory() as db:
        row = db.get(User, alice.user.id)
        assert row is not None
        row.is_deleted = True
        db.commit()
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_passkey, alice.key.assertion(options), False, CTX)
