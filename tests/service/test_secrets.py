"""No token, password or hash is stored in clear or written to a log during a full cycle."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import Engine, select

from frontdesk import crypto
from frontdesk.clock import FrozenClock
from frontdesk.errors import InvalidCode
from frontdesk.models import Base, LoginToken, OutboxEmail
from frontdesk.runtime import Frontdesk
from frontdesk.service.admin import reset_second_factors
from frontdesk.service.challenges import require_second_factor
from frontdesk.service.context import RequestContext
from frontdesk.service.factors import regenerate_recovery_codes
from frontdesk.service.login import consume_login_link, login_with_code, login_with_password, request_login_link
from frontdesk.service.recovery import normalise
from frontdesk.service.reset import complete_password_reset, request_password_reset
from frontdesk.service.second_factor import complete_second_factor, webauthn_authentication_options
from frontdesk.service.sessions import authenticate
from frontdesk.service.signup import confirm_signup, request_signup
from frontdesk.service.totp import begin_totp_enrolment, confirm_totp
from frontdesk.service.webauthn import register_credential, registration_options
from tests.factories import make_user
from tests.mailbox import code_from, outbox, token_from
from tests.service.authenticator import SoftAuthenticator, unb64url

CTX = RequestContext(ip_address="192.0.2.50", user_agent="pytest")


def dump(engine: Engine) -> str:
    """Every row of every table except the outbox, as text (bytes as hex and as latin-1)."""
    parts: list[str] = []
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name == OutboxEmail.__tablename__:
                continue
            for row in conn.execute(table.select()):
                for value in row:
                    if isinstance(value, bytes):
                        parts += [value.hex(), value.decode("latin-1")]
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


def test_full_cycle_leaves_no_secret_in_database_or_logs(
    fd: Frontdesk, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password, new_password = "first secret passphrase", "second secret passphrase"
    fd.call(request_signup, email="s@example.com", username="secretive", password=password, name="S", ctx=CTX)
    signup_token = token_from(outbox(fd, "signup_confirm")[-1])
    session_token = fd.call(confirm_signup, signup_token, CTX).issued.token
    login = fd.call(login_with_password, "secretive", password, True, CTX)
    fd.call(request_login_link, "secretive", CTX)
    link_token = token_from(outbox(fd, "login_link")[-1])
    link_code = code_from(outbox(fd, "login_link")[-1])  # its grant used by the link
    link_session = fd.call(consume_login_link, link_token, False, CTX).issued.token
    fd.call(request_login_link, "secretive", CTX)
    code = code_from(outbox(fd, "login_link")[-1])
    with pytest.raises(InvalidCode):
        fd.call(login_with_code, "secretive", f"{(int(code) + 1) % 10**6:06d}", False, CTX)
    code_session = fd.call(login_with_code, "secretive", code, False, CTX).issued.token
    fd.call(request_password_reset, "secretive", CTX)
    reset_token = token_from(outbox(fd, "password_reset")[-1])
    reset_session = fd.call(complete_password_reset, reset_token, new_password, CTX).issued.token
    assert fd.read(authenticate, reset_session, is_api_key=False) is not None
    fd.flush_touches()

    secrets = [
        password,
        new_password,
        signup_token,
        session_token,
        login.issued.token,
        link_token,
        link_session,
        code_session,
        reset_token,
        reset_session,
    ]
    stored = dump(engine)
    logs = caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)
    for secret in secrets:
        assert secret not in stored
        assert secret not in logs
    for token in (session_token, login.issued.token, reset_session, signup_token, reset_token):
        assert crypto.digest(token).hex() in stored  # what is stored instead
    # the 6-digit sign-in codes: in no row or log line as a number of their own (a longer number,
    # a timestamp's microseconds, may hold the same digits by chance)
    for typed in (link_code, code):
        alone = re.compile(rf"(?<![0-9]){typed}(?![0-9])")
        assert not alone.search(stored) and not alone.search(logs), "a sign-in code in the clear"
    with engine.connect() as conn:
        code_hashes = list(conn.scalars(select(LoginToken.code_hash).where(LoginToken.code_hash.is_not(None))))
    assert len(code_hashes) == 2 and all((h or "").startswith("$argon2id$") for h in code_hashes), (
        "codes: Argon2id only"
    )
    hashed = [line for line in stored.splitlines() if line.startswith("$argon2id$")]
    assert hashed and all(h not in logs for h in hashed)


def test_second_factors_leave_no_secret_in_database_or_logs(
    fd: Frontdesk, engine: Engine, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """After enrolling every factor and signing in with each, the database holds no TOTP secret,
    recovery code, challenge token (second step or WebAuthn ceremony) or pending password in the
    clear, and no log line or notice email does; nor after regenerating codes and an admin reset."""
    caplog.set_level(logging.DEBUG)
    user = make_user(fd)
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    totp = pyotp.TOTP(enrolment.secret)
    codes = fd.call(confirm_totp, user.id, totp.at(clock.now()), CTX) or []
    key = SoftAuthenticator()
    fd.call(register_credential, user.id, "key", key.register(fd.call(registration_options, user.id)), CTX)
    clock.advance(timedelta(seconds=30))
    login = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    fd.call(complete_second_factor, login.challenge, CTX, totp_code=totp.at(clock.now()))
    by_code = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    fd.call(complete_second_factor, by_code.challenge, CTX, recovery_code=codes[0])
    new_password = "a pending new passphrase"
    reset = fd.call(
        require_second_factor,
        user,
        CTX,
        purpose="reset",
        first_factor="email_link",
        new_password_hash=fd.deps.hasher.hash(new_password),
    )
    options = fd.call(webauthn_authentication_options, reset.challenge)
    fd.call(complete_second_factor, reset.challenge, CTX, webauthn_response=key.assertion(options))
    regenerated = fd.call(regenerate_recovery_codes, user.id, CTX)
    pending = fd.call(begin_totp_enrolment, user.id, CTX)  # left pending
    open_step = fd.call(require_second_factor, user, CTX, purpose="login", first_factor="password")
    fd.call(reset_second_factors, user.id, CTX, actor_id=None)

    stored = dump(engine)
    logs = caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)
    # the notice emails (added, code used, codes regenerated, reset) carry none of them either
    mail = "\n".join(e.subject + e.text_body + e.html_body for e in outbox(fd))
    assert {e.kind for e in outbox(fd)} >= {"second_factor_added", "recovery_code_used", "second_factors_reset"}
    canonical = [normalise(c) or "" for c in (*codes, *regenerated)]
    ceremony = [options["challenge"], unb64url(options["challenge"]).hex()]  # a WebAuthn challenge, as sent
    secrets = [
        enrolment.secret,
        pending.secret,
        login.challenge,
        by_code.challenge,
        reset.challenge,
        open_step.challenge,
        new_password,
        *codes,
        *regenerated,
        *canonical,
        *ceremony,
    ]
    for secret in secrets:
        assert secret not in stored
        assert secret not in logs
        assert secret not in mail
    assert pending.secret.lower() not in (stored + logs + mail).lower()
    assert enrolment.secret.lower() not in stored.lower()
    for token in (login.challenge, reset.challenge):
        assert crypto.digest(token).hex() in stored  # what is stored instead
