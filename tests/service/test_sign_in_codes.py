"""Sign-in codes (contract section 7): the 6-digit code in every sign-in email, one grant with its
link, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import func, select

from frontdesk.clock import FrozenClock
from frontdesk.errors import InvalidCode, InvalidCredentials, RateLimited, SecondFactorRequired, TokenInvalid
from frontdesk.models import AuthEvent, LoginToken, User, UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service import emails
from frontdesk.service.accounts import delete_user, set_banned
from frontdesk.service.context import NO_CONTEXT, RequestContext
from frontdesk.service.login import (
    MAX_CODE_ATTEMPTS,
    consume_login_link,
    login_with_code,
    login_with_password,
    normalise_code,
    request_login_link,
)
from frontdesk.service.reset import complete_password_reset, request_password_reset
from frontdesk.service.second_factor import complete_second_factor
from frontdesk.service.sessions import authenticate
from frontdesk.service.totp import begin_totp_enrolment, confirm_totp
from frontdesk.settings import Settings
from tests.factories import PASSWORD, make_user
from tests.mailbox import code_from, outbox, token_from
from tests.service.racing import N, all_at_once, racing_frontdesk

CTX = RequestContext(ip_address="198.51.100.21", user_agent="pytest")


def ask(fd: Frontdesk, user: User, login: str | None = None) -> tuple[str, str]:
    """Ask for a sign-in link; returns the newest email's (token, code)."""
    fd.call(request_login_link, login or user.username, CTX)
    email = outbox(fd, "login_link", to=user.email)[-1]
    return token_from(email), code_from(email)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def grant(fd: Frontdesk, user: User) -> LoginToken:
    with fd.factory() as db:
        row = db.scalars(select(LoginToken).where(LoginToken.user_id == user.id).order_by(LoginToken.id.desc())).first()
        assert row is not None
        return row


def sessions_of(fd: Frontdesk, user: User) -> int:
    with fd.factory() as db:
        return db.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)) or 0


def hashes_made(fd: Frontdesk, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The secrets `fd`'s password hasher hashes from now on, in order (it still hashes them)."""
    hashed: list[str] = []
    real: Callable[[str], str] = fd.deps.hasher.hash

    def counted(secret: str) -> str:
        hashed.append(secret)
        return real(secret)

    monkeypatch.setattr(fd.deps.hasher, "hash", counted)
    return hashed


def test_the_code_from_the_email_signs_in(fd: Frontdesk) -> None:
    alice = make_user(fd, username="alice", email="alice@example.com")
    _, code = ask(fd, alice)
    result = fd.call(login_with_code, "ALICE@example.com", code, True, CTX)  # any spelling, as at login
    assert result.user.id == alice.id and result.issued.session.long_lived
    principal = fd.read(authenticate, result.issued.token, is_api_key=False)
    assert principal is not None and principal.factors == ("email_link",)
    with fd.factory() as db:
        event = db.scalars(select(AuthEvent).where(AuthEvent.event == "login.succeeded")).one()
    assert event.detail == "login_code" and event.user_id == alice.id


def test_a_code_typed_with_spaces_or_a_hyphen_still_counts(fd: Frontdesk) -> None:
    bob = make_user(fd, username="bob")
    _, code = ask(fd, bob)
    assert fd.call(login_with_code, "bob", f"{code[:3]} {code[3:]}", False, CTX).user.id == bob.id


def test_code_then_link_the_link_is_refused(fd: Frontdesk) -> None:
    carol = make_user(fd, username="carol")
    token, code = ask(fd, carol)
    fd.call(login_with_code, "carol", code, False, CTX)
    with pytest.raises(TokenInvalid):
        fd.call(consume_login_link, token, False, CTX)
    with pytest.raises(InvalidCode):
        fd.call(login_with_code, "carol", code, False, CTX)
    assert sessions_of(fd, carol) == 1


def test_link_then_code_the_code_is_refused(fd: Frontdesk) -> None:
    dave = make_user(fd, username="dave")
    token, code = ask(fd, dave)
    fd.call(consume_login_link, token, False, CTX)
    with pytest.raises(InvalidCode):
        fd.call(login_with_code, "dave", code, False, CTX)
    assert sessions_of(fd, dave) == 1


def test_five_wrong_codes_end_the_grant_and_the_link_dies(fd: Frontdesk) -> None:
    erin = make_user(fd, username="erin")
    token, code = ask(fd, erin)
    for _ in range(MAX_CODE_ATTEMPTS - 1):
        with pytest.raises(InvalidCode):
            fd.call(login_with_code, "erin", wrong(code), False, CTX)
    assert grant(fd, erin).used_at is None, "4 wrong codes ended the grant"
    with pytest.raises(InvalidCode):
        fd.call(login_with_code, "erin", wrong(code), False, CTX)
    assert grant(fd, erin).used_at is not None
    with pytest.raises(InvalidCode):
        fd.call(login_with_code, "erin", code, False, CTX)  # the right code, too late
    with pytest.raises(TokenInvalid):
        fd.call(consume_login_link, token, False, CTX)
    assert sessions_of(fd, erin) == 0
    # a new email is a new grant, with five tries of its own
    _, fresh = ask(fd, erin)
    assert fd.call(login_with_code, "erin", fresh, False, CTX).user.id == erin.id


def test_four_wrong_codes_leave_the_right_one_working(fd: Frontdesk) -> None:
    fay = make_user(fd, username="fay")
    _, code = ask(fd, fay)
    for _ in range(MAX_CODE_ATTEMPTS - 1):
        with pytest.raises(InvalidCode):
            fd.call(login_with_code, "fay", wrong(code), False, CTX)
    assert fd.call(login_with_code, "fay", code, False, CTX).user.id == fay.id


def test_a_wrong_code_counts_against_the_account_login_limit(fd: Frontdesk, settings: Settings) -> None:
    gina = make_user(fd, username="gina", email="gina@example.com")
    limit = settings.login_failures_per_account
    for _ in range(limit - 1):
        with pytest.raises(InvalidCredentials):
            fd.call(login_with_password, "gina", "wrong password!", False, CTX)
    _, code = ask(fd, gina)
    with pytest.raises(InvalidCode):
        fd.call(login_with_code, "gina", wrong(code), False, CTX)  # the limit's last failure
    with pytest.raises(RateLimited):
        fd.call(login_with_password, "gina", PASSWORD, False, CTX)
    with pytest.raises(RateLimited):
        fd.call(login_with_code, "gina", code, False, CTX)  # over the limit: refused before any check
    # by another spelling, the account's cap answers as a wrong credential, without checking it
    with pytest.raises(InvalidCode):
        fd.call(login_with_code, "gina@example.com", code, False, CTX)
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "gina@example.com", PASSWORD, False, CTX)
    assert sessions_of(fd, gina) == 0
    assert grant(fd, gina).used_at is None and grant(fd, gina).code_attempts == 1  # untouched over the cap


def test_a_right_code_gives_its_attempt_back(fd: Frontdesk, settings: Settings) -> None:
    hank = make_user(fd, username="hank")
    for _ in range(settings.login_failures_per_account - 1):
        with pytest.raises(InvalidCredentials):
            fd.call(login_with_password, "hank", "wrong password!", False, CTX)
    _, code = ask(fd, hank)
    fd.call(login_with_code, "hank", code, False, CTX)
    assert fd.call(login_with_password, "hank", PASSWORD, False, CTX).user.id == hank.id  # not over the limit


def count_verifications(fd: Frontdesk, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Argon2 verification the hasher runs from now on (the hash it checked against)."""
    hasher = fd.deps.hasher
    seen: list[str] = []
    real: Callable[[str, str], bool] = hasher._verify

    def counted(hashed: str, password: str) -> bool:
        seen.append(hashed)
        return real(hashed, password)

    monkeypatch.setattr(hasher, "_verify", counted)
    return seen


def test_unknown_user_and_no_grant_answer_as_a_wrong_code_after_the_same_work(
    fd: Frontdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    ivy = make_user(fd, username="ivy")
    make_user(fd, username="jack")  # never asked for a link
    _, code = ask(fd, ivy)
    verifications = count_verifications(fd, monkeypatch)
    answers: list[str] = []
    for login, typed in (("ivy", wrong(code)), ("nobody", code), ("jack", code), ("ivy", "12345"), ("ivy", "abcdef")):
        with pytest.raises(InvalidCode) as caught:
            fd.call(login_with_code, login, typed, False, CTX)
        answers.append(str(caught.value))
    assert len(set(answers)) == 1
    assert len(verifications) == 5, "each answer costs exactly one Argon2 verification"
    with fd.factory() as db:
        failed = list(db.scalars(select(AuthEvent).where(AuthEvent.event == "login.failed")))
    assert len(failed) == 5 and {e.detail for e in failed} == {"login_code"}


def test_only_the_newest_emails_code_works(fd: Frontdesk) -> None:
    kim = make_user(fd, username="kim")
    old_token, old_code = ask(fd, kim)
    _, new_code = ask(fd, kim)
    if old_code != new_code:
        with pytest.raises(InvalidCode):
            fd.call(login_with_code, "kim", old_code, False, CTX)
    assert fd.call(login_with_code, "kim", new_code, False, CTX).user.id == kim.id
    assert fd.call(consume_login_link, old_token, False, CTX).user.id == kim.id  # the older link is its own grant


def test_a_code_expires_with_its_link(fd: Frontdesk, clock: FrozenClock, settings: Settings) -> None:
    lee = make_user(fd, username="lee")
    _, code = ask(fd, lee)
    clock.advance(settings.login_token_ttl + timedelta(seconds=1))
    with pytest.raises(InvalidCode):
        fd.call(login_with_code, "lee", code, False, CTX)


def test_a_user_with_a_second_factor_gets_the_second_step(fd: Frontdesk, clock: FrozenClock) -> None:
    mia = make_user(fd, username="mia")
    enrolment = fd.call(begin_totp_enrolment, mia.id, CTX)
    totp = pyotp.TOTP(enrolment.secret)
    assert fd.call(confirm_totp, mia.id, totp.at(clock.now()), CTX)
    clock.advance(timedelta(seconds=30))
    token, code = ask(fd, mia)
    with pytest.raises(SecondFactorRequired) as step:
        fd.call(login_with_code, "mia", code, True, CTX)
    assert sessions_of(fd, mia) == 0
    with pytest.raises(TokenInvalid):
        fd.call(consume_login_link, token, False, CTX)  # the grant was used by the first step
    done = fd.call(complete_second_factor, step.value.challenge, CTX, totp_code=totp.at(clock.now()))
    principal = fd.read(authenticate, done.issued.token, is_api_key=False)
    assert principal is not None and principal.factors == ("email_link", "totp") and principal.aal == 2
    assert done.issued.session.long_lived


def test_the_code_is_stored_only_as_an_argon2_hash(fd: Frontdesk) -> None:
    noa = make_user(fd, username="noa")
    _, code = ask(fd, noa)
    row = grant(fd, noa)
    assert row.code_hash is not None and row.code_hash.startswith("$argon2id$")
    assert code not in row.code_hash and "code_hash" not in repr(row)
    assert fd.deps.hasher.verify(row.code_hash, code)


def test_one_right_code_used_50_times_at_once_signs_in_once(settings: Settings, clock: FrozenClock) -> None:
    with racing_frontdesk(settings, clock) as fd:
        olga = make_user(fd, username="olga")
        token, code = ask(fd, olga)

        def use(_: int) -> str:
            try:
                fd.call(login_with_code, "olga", code, False, CTX)
            except (InvalidCode, RateLimited) as exc:
                return type(exc).__name__
            return "ok"

        results = all_at_once(N, use)
        assert results.count("ok") == 1, results
        assert set(results) <= {"ok", "InvalidCode", "RateLimited"}
        assert sessions_of(fd, olga) == 1
        with pytest.raises(TokenInvalid):
            fd.call(consume_login_link, token, False, CTX)
        assert grant(fd, olga).code_attempts <= MAX_CODE_ATTEMPTS  # never more checks than tries


def test_no_code_is_hashed_for_an_email_over_the_sending_limit(
    fd: Frontdesk, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asking for links again and again costs the server one Argon2 hash per email actually sent."""
    pia = make_user(fd, username="pia")
    hashed = hashes_made(fd, monkeypatch)
    for _ in range(settings.emails_per_address + 3):
        fd.call(request_login_link, "pia", CTX)
    assert len(outbox(fd, "login_link", to=pia.email)) == settings.emails_per_address
    assert len(hashed) == settings.emails_per_address


def test_a_window_turning_over_between_the_checks_still_sends_a_working_code(
    fd: Frontdesk, clock: FrozenClock, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The early look at the limits says no, the window turns over before the count: the email that
    then goes still carries a code, hashed late, and the code signs in."""
    una = make_user(fd, username="una")
    for _ in range(settings.emails_per_address):
        ask(fd, una)
    real = emails.within_limits

    def then_the_window_turns(*args: Any) -> bool:
        answer = real(*args)
        clock.advance(settings.rate_limit_window)
        return answer

    monkeypatch.setattr(emails, "within_limits", then_the_window_turns)
    fd.call(request_login_link, "una", CTX)
    sent = outbox(fd, "login_link", to=una.email)
    assert len(sent) == settings.emails_per_address + 1
    code = code_from(sent[-1])
    assert fd.call(login_with_code, "una", code, False, CTX).user.id == una.id


def test_a_reset_link_hashes_no_code(fd: Frontdesk, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only sign-in emails carry a code: a reset costs no Argon2 hash, and its grant has no code."""
    vic = make_user(fd, username="vic")
    hashed = hashes_made(fd, monkeypatch)
    fd.call(request_password_reset, "vic", CTX)
    assert len(outbox(fd, "password_reset", to=vic.email)) == 1
    assert hashed == []


def test_a_banned_or_deleted_account_or_a_reset_ends_the_code(fd: Frontdesk) -> None:
    rex, sue, tom = make_user(fd, username="rex"), make_user(fd, username="sue"), make_user(fd, username="tom")
    codes = {user.username: ask(fd, user)[1] for user in (rex, sue, tom)}
    fd.call(set_banned, rex.id, True, NO_CONTEXT, actor_id=None)
    fd.call(delete_user, sue.id, NO_CONTEXT, actor_id=None)
    fd.call(request_password_reset, "tom", CTX)
    reset = token_from(outbox(fd, "password_reset", to=tom.email)[-1])
    fd.call(complete_password_reset, reset, "a new passphrase!", CTX)
    for username, code in codes.items():
        with pytest.raises(InvalidCode):
            fd.call(login_with_code, username, code, False, CTX)


def test_each_grant_takes_exactly_five_codes_and_records_who_ran_out(fd: Frontdesk) -> None:
    gus = make_user(fd, username="gus")
    _, code = ask(fd, gus)
    for _ in range(4):
        with pytest.raises(InvalidCode):
            fd.call(login_with_code, "gus", wrong(code), False, CTX)
    assert grant(fd, gus).used_at is None
    with pytest.raises(InvalidCode):  # the fifth
        fd.call(login_with_code, "gus", wrong(code), False, CTX)
    assert grant(fd, gus).used_at is not None
    with fd.factory() as db:
        exhausted = db.scalars(select(AuthEvent.user_id).where(AuthEvent.event == "login_code.exhausted")).all()
    assert exhausted == [gus.id]


@pytest.mark.parametrize(
    ("typed", "digits"),
    [
        ("123456", "123456"),
        ("12 34-56", "123456"),
        ("12345", None),
        ("1234567", None),
        ("12a456", None),
        ("\u0661\u0662\u0663\u0664\u0665\u0666", None),  # digits, but not ASCII ones
    ],
)
def test_a_typed_code_is_six_ascii_digits(typed: str, digits: str | None) -> None:
    assert normalise_code(typed) == digits
