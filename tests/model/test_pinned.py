"""Regular tests for what the contract's model found (tests/model): each pins one rule."""

from __future__ import annotations

from datetime import timedelta

import pyotp

from frontdesk.clock import FrozenClock
from frontdesk.runtime import Frontdesk
from frontdesk.service import reauth, sessions, totp
from frontdesk.service.context import RequestContext
from frontdesk.service.signup import confirm_signup, request_signup
from tests.factories import PASSWORD
from tests.mailbox import outbox, token_from

CTX = RequestContext(ip_address="198.51.100.9", user_agent="pytest")


def test_a_signup_session_proved_the_email_and_a_second_factor_raises_it_to_aal_2(
    fd: Frontdesk, clock: FrozenClock
) -> None:
    """Contract section 6: aal 2 is "a password or email link plus a second factor". The session a
    confirmed signup opens has proved the email link; re-authenticating it with an authenticator
    app makes it aal 2, as it does a session signed in with a password (it stayed aal 1, with no
    factors recorded)."""
    fd.call(request_signup, email="pin@example.com", username="pinned", password=PASSWORD, name="Pin", ctx=CTX)
    result = fd.call(confirm_signup, token_from(outbox(fd, "signup_confirm", to="pin@example.com")[0]), CTX)
    principal = fd.read(sessions.authenticate, result.issued.token, is_api_key=False)
    assert principal is not None
    assert principal.factors == ("email_link",) and principal.aal == 1
    secret = fd.call(totp.begin_totp_enrolment, result.user.id, CTX).secret
    fd.call(totp.confirm_totp, result.user.id, pyotp.TOTP(secret).at(clock.now()), CTX)
    clock.advance(timedelta(minutes=1))
    fd.call(reauth.reauthenticate, principal, CTX, totp_code=pyotp.TOTP(secret).at(clock.now()))
    after = fd.read(sessions.authenticate, result.issued.token, is_api_key=False)
    assert after is not None
    assert after.aal == 2 and after.factors == ("email_link", "totp")
