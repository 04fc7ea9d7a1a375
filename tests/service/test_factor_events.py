"""Every second-factor event is audited, counted in /metrics and (where the contract says) emailed;
the administrator's reset removes every factor and ends every way in; cleanup removes the dead."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from frontdesk.clock import FrozenClock
from frontdesk.errors import InvalidCode, InvalidCredentials, InvalidInput, NotFound, TokenInvalid
from frontdesk.models import (
    AuthEvent,
    RecoveryCode,
    SecondFactorChallenge,
    TotpFactor,
    User,
    WebAuthnChallenge,
    WebAuthnCredential,
)
from frontdesk.runtime import Frontdesk
from frontdesk.service.admin import reset_second_factors
from frontdesk.service.challenges import require_second_factor
from frontdesk.service.context import RequestContext
from frontdesk.service.factors import regenerate_recovery_codes
from frontdesk.service.login import consume_login_link, request_login_link
from frontdesk.service.maintenance import cleanup
from frontdesk.service.second_factor import complete_second_factor, login_with_passkey, webauthn_authentication_options
from frontdesk.service.sessions import authenticate
from frontdesk.service.totp import PENDING_TTL, begin_totp_enrolment, confirm_totp, remove_totp
from frontdesk.service.webauthn import authentication_options, register_credential, registration_options
from frontdesk.service.webauthn import remove_credential as remove_key
from tests.factories import make_session, make_user
from tests.mailbox import outbox, token_from
from tests.service.authenticator import SoftAuthenticator

CTX = RequestContext(ip_address="198.51.100.77", user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0")
STEP = timedelta(seconds=30)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def events(fd: Frontdesk, user_id: int) -> list[str]:
    with fd.factory() as db:
        return list(db.scalars(select(AuthEvent.event).where(AuthEvent.user_id == user_id).order_by(AuthEvent.id)))


def count(fd: Frontdesk, model: type[object], *where: object) -> int:
    with fd.factory() as db:
        return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def enrol_totp(fd: Frontdesk, clock: FrozenClock, user: User) -> tuple[pyotp.TOTP, list[str]]:
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    app = pyotp.TOTP(enrolment.secret)
    codes = fd.call(confirm_totp, user.id, app.at(clock.now()), CTX) or []
    clock.advance(STEP)
    return app, codes


def add_key(fd: Frontdesk, user: User, name: str = "Desk key") -> SoftAuthenticator:
    key = SoftAuthenticator()
    fd.call(register_credential, user.id, name, key.register(fd.call(registration_options, user.id)), CTX)
    return key


def test_enrolling_and_removing_factors_emails_the_user_without_a_secret(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    app = pyotp.TOTP(enrolment.secret)
    assert outbox(fd, to=user.email) == [], "beginning an enrolment is not news"
    codes = fd.call(confirm_totp, user.id, app.at(clock.now()), CTX) or []
    add_key(fd, user, "Desk key")
    fd.call(remove_totp, user.id, CTX)
    with fd.factory() as db:
        key_id = db.scalar(select(WebAuthnCredential.id).where(WebAuthnCredential.user_id == user.id))
    assert key_id is not None
    fd.call(remove_key, user.id, key_id, CTX)

    sent = outbox(fd, to=user.email)
    assert [e.kind for e in sent] == [
        "second_factor_added",
        "second_factor_added",
        "second_factor_removed",
        "second_factor_removed",
    ]
    assert "an authenticator app was added" in sent[0].text_body
    assert 'a security key or passkey ("Desk key") was added' in sent[1].text_body
    assert "an authenticator app was removed" in sent[2].text_body
    assert "198.51.100.77" in sent[0].text_body and "Firefox" in sent[0].text_body
    bodies = "\n".join(e.text_body + e.html_body + e.subject for e in sent)
    for secret in (enrolment.secret, enrolment.otpauth_uri, *codes):
        assert secret not in bodies


def test_regenerating_and_using_recovery_codes_emails_the_count_left(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    _, first = enrol_totp(fd, clock, user)
    codes = fd.call(regenerate_recovery_codes, user.id, CTX)
    [regenerated] = outbox(fd, "recovery_codes_regenerated", user.email)
    assert "old codes no longer work" in regenerated.text_body
    for used, left in ((codes[0], 9), (codes[5], 8)):
        challenge = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
        fd.call(complete_second_factor, challenge.challenge, CTX, recovery_code=used)
        notice = outbox(fd, "recovery_code_used", user.email)[-1]
        assert f"you have {left} left" in notice.text_body and f"you have {left} left" in notice.html_body
    bodies = "\n".join(e.text_body + e.html_body for e in outbox(fd, to=user.email))
    for code in (*first, *codes):
        assert code not in bodies and code.replace("-", "") not in bodies


def test_every_factor_event_is_audited(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    pending = fd.call(begin_totp_enrolment, user.id, CTX)
    with pytest.raises(InvalidCode):
        fd.call(confirm_totp, user.id, "12345x", CTX)
    app = pyotp.TOTP(pending.secret)
    fd.call(confirm_totp, user.id, app.at(clock.now()), CTX)
    key = add_key(fd, user)
    clock.advance(STEP)
    challenge = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    with pytest.raises(InvalidCode):
        fd.call(complete_second_factor, challenge.challenge, CTX, totp_code="12345x")
    fd.call(complete_second_factor, challenge.challenge, CTX, totp_code=app.at(clock.now()))
    # a genuine signature with a counter that went back (a cloned key)
    again = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    options = fd.call(webauthn_authentication_options, again.challenge)
    with pytest.raises(InvalidCode):
        fd.call(complete_second_factor, again.challenge, CTX, webauthn_response=key.assertion(options, count=1))
    fd.call(regenerate_recovery_codes, user.id, CTX)
    fd.call(remove_totp, user.id, CTX)
    fd.call(reset_second_factors, user.id, CTX, actor_id=None)

    seen = events(fd, user.id)
    for event in (
        "totp.enrolment_started",
        "totp.confirm_failed",
        "totp.enrolled",
        "recovery_codes.generated",
        "webauthn.enrolled",
        "second_factor.required",
        "second_factor.failed",
        "second_factor.succeeded",
        "webauthn.counter_regressed",
        "recovery_codes.regenerated",
        "totp.removed",
        "second_factors.reset",
    ):
        assert event in seen, event
    with fd.factory() as db:
        reset = db.scalars(select(AuthEvent).where(AuthEvent.event == "second_factors.reset")).one()
    assert reset.detail == "totp=0 webauthn=1 codes=10 sessions=1 by=None"


def test_verifications_and_enrolments_are_counted_in_metrics(fd: Frontdesk, clock: FrozenClock) -> None:
    def metric(method: str, outcome: str) -> float:
        return sample("frontdesk_second_factor_verifications_total", method=method, outcome=outcome)

    before = {
        "totp_ok": metric("totp", "success"),
        "totp_bad": metric("totp", "invalid_code"),
        "code_ok": metric("recovery_code", "success"),
        "gone": metric("totp", "invalid_token"),
        "key_ok": metric("webauthn", "success"),
        "passkey_ok": metric("passkey", "success"),
        "passkey_bad": metric("passkey", "invalid_credentials"),
        "enrolled_totp": sample("frontdesk_second_factor_enrolments_total", method="totp"),
        "enrolled_key": sample("frontdesk_second_factor_enrolments_total", method="webauthn"),
        "reset": sample("frontdesk_second_factor_removals_total", method="admin_reset"),
    }
    user = make_user(fd)
    app, codes = enrol_totp(fd, clock, user)
    key = add_key(fd, user)
    first = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    with pytest.raises(InvalidCode):
        fd.call(complete_second_factor, first.challenge, CTX, totp_code="12345x")
    fd.call(complete_second_factor, first.challenge, CTX, totp_code=app.at(clock.now()))
    with pytest.raises(TokenInvalid):
        fd.call(complete_second_factor, first.challenge, CTX, totp_code=app.at(clock.now()))
    second = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    fd.call(complete_second_factor, second.challenge, CTX, recovery_code=codes[0])
    third = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    options = fd.call(webauthn_authentication_options, third.challenge)
    fd.call(complete_second_factor, third.challenge, CTX, webauthn_response=key.assertion(options))
    passkey_options = fd.call(authentication_options, user_id=None)
    fd.call(login_with_passkey, key.assertion(passkey_options), False, CTX)
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_passkey, key.assertion(passkey_options), False, CTX)  # its challenge is used up
    fd.call(reset_second_factors, user.id, CTX, actor_id=None)

    after = {
        "totp_ok": metric("totp", "success"),
        "totp_bad": metric("totp", "invalid_code"),
        "code_ok": metric("recovery_code", "success"),
        "gone": metric("totp", "invalid_token"),
        "key_ok": metric("webauthn", "success"),
        "passkey_ok": metric("passkey", "success"),
        "passkey_bad": metric("passkey", "invalid_credentials"),
        "enrolled_totp": sample("frontdesk_second_factor_enrolments_total", method="totp"),
        "enrolled_key": sample("frontdesk_second_factor_enrolments_total", method="webauthn"),
        "reset": sample("frontdesk_second_factor_removals_total", method="admin_reset"),
    }
    assert {name: after[name] - before[name] for name in before} == dict.fromkeys(before, 1.0)


def test_the_admin_reset_removes_every_factor_and_every_way_in(fd: Frontdesk, clock: FrozenClock) -> None:
    user, bystander = make_user(fd), make_user(fd)
    app, _ = enrol_totp(fd, clock, user)
    add_key(fd, user)
    fd.call(begin_totp_enrolment, user.id, CTX)  # a pending one too
    enrol_totp(fd, clock, bystander)
    add_key(fd, bystander)
    sessions = [make_session(fd, user), make_session(fd, user, is_api_key=True)]
    kept = make_session(fd, bystander)
    open_step = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    fd.call(request_login_link, user.username, CTX)
    link = token_from(outbox(fd, "login_link", user.email)[-1])

    done = fd.call(reset_second_factors, user.id, CTX, actor_id=7)
    assert (done.totp, done.webauthn, done.recovery_codes, done.sessions) == (2, 1, 10, 2)
    for model in (TotpFactor, WebAuthnCredential, RecoveryCode):
        assert count(fd, model, model.user_id == user.id) == 0
        assert count(fd, model, model.user_id == bystander.id) > 0
    for issued in sessions:
        assert fd.read(authenticate, issued.token, is_api_key=issued.session.is_api_key) is None
    assert fd.read(authenticate, kept.token, is_api_key=False) is not None
    with pytest.raises(TokenInvalid):
        fd.call(complete_second_factor, open_step.challenge, CTX, totp_code=app.at(clock.now()))
    with pytest.raises(TokenInvalid):
        fd.call(consume_login_link, link, False, CTX)
    [notice] = outbox(fd, "second_factors_reset", user.email)
    assert "An administrator removed every second factor" in notice.text_body
    assert "198.51.100.77" not in notice.text_body + notice.html_body, "the administrator's address was emailed"
    assert outbox(fd, "second_factors_reset", bystander.email) == []


def test_the_admin_reset_of_an_unknown_or_deleted_user_changes_nothing(fd: Frontdesk) -> None:
    for user_id in (0, 987654321):
        with pytest.raises(NotFound):
            fd.call(reset_second_factors, user_id, CTX, actor_id=None)
    gone = make_user(fd)
    fd.call(lambda db, _: db.execute(update(User).where(User.id == gone.id).values(is_deleted=True)))
    with pytest.raises(NotFound):
        fd.call(reset_second_factors, gone.id, CTX, actor_id=None)
    assert outbox(fd, "second_factors_reset") == []
    assert count(fd, AuthEvent, AuthEvent.event == "second_factors.reset") == 0


def test_an_abandoned_enrolment_cannot_be_confirmed(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    app = pyotp.TOTP(fd.call(begin_totp_enrolment, user.id, CTX).secret)
    clock.advance(PENDING_TTL + timedelta(seconds=1))
    with pytest.raises(InvalidInput, match="start again"):
        fd.call(confirm_totp, user.id, app.at(clock.now()), CTX)


@pytest.mark.parametrize("batch_size", [100, 10_000])
def test_cleanup_deletes_dead_challenges_and_abandoned_enrolments(
    fd: Frontdesk, clock: FrozenClock, batch_size: int
) -> None:
    user, other = make_user(fd), make_user(fd)
    enrol_totp(fd, clock, user)
    key = add_key(fd, user)
    fd.call(begin_totp_enrolment, other.id, CTX)  # abandoned, below
    old = [fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password") for _ in range(150)]
    fd.call(webauthn_authentication_options, old[0].challenge)
    fd.call(registration_options, user.id)
    used = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    options = fd.call(webauthn_authentication_options, used.challenge)
    fd.call(complete_second_factor, used.challenge, CTX, webauthn_response=key.assertion(options))

    clock.advance(timedelta(days=31))
    fresh = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    fd.call(webauthn_authentication_options, fresh.challenge)
    fd.call(begin_totp_enrolment, user.id, CTX)  # pending, begun now: kept
    report = cleanup(fd.factory, fd.deps, timedelta(days=30), batch_size=batch_size)

    assert report.challenges == 151 + 4  # second steps + four WebAuthn ceremonies (one registered the key)
    assert report.totp_enrolments == 1
    assert count(fd, SecondFactorChallenge) == 1 and count(fd, WebAuthnChallenge) == 1
    assert count(fd, TotpFactor, TotpFactor.user_id == other.id) == 0
    assert count(fd, TotpFactor, TotpFactor.user_id == user.id) == 2  # the active one and the new pending one
    assert cleanup(fd.factory, fd.deps, timedelta(days=30), batch_size=batch_size).challenges == 0
