"""New-device notices and "this wasn't me" (contract section 7, ASVS 6.3.5), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from frontdesk.clock import FrozenClock
from frontdesk.errors import SecondFactorRequired, TokenInvalid
from frontdesk.models import AuthEvent, NewDeviceNotice, SignInDevice, User, UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import RequestContext
from frontdesk.service.deletion import delete_own_account
from frontdesk.service.login import consume_login_link, login_with_password, request_login_link
from frontdesk.service.maintenance import cleanup
from frontdesk.service.notices import disown_sign_in, view_notice
from frontdesk.service.reset import complete_password_reset, request_password_reset
from frontdesk.service.second_factor import complete_second_factor
from frontdesk.service.sessions import authenticate
from frontdesk.service.signin import open_session
from frontdesk.service.signup import confirm_signup, request_signup
from frontdesk.service.totp import begin_totp_enrolment, confirm_totp
from frontdesk.settings import Settings
from tests.factories import PASSWORD, make_session, make_user
from tests.mailbox import outbox, token_from
from tests.service.racing import N, all_at_once, racing_frontdesk
from tests.service.test_email_change import principal

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
GERMANY, UNITED_STATES = "85.214.132.117", "8.8.8.8"  # in the offline GeoIP data
HOME = RequestContext(ip_address=GERMANY, user_agent=FIREFOX_LINUX)
STRANGER = RequestContext(ip_address=GERMANY, user_agent=CHROME_WINDOWS)
ABROAD = RequestContext(ip_address=UNITED_STATES, user_agent=FIREFOX_LINUX)
NEW_PASSWORD = "a completely different phrase"
OTHER_AGENTS = (  # each a different (browser, OS) to ua-parser
    CHROME_WINDOWS,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 "
    "Edg/126.0.0.0",
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.32.3",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1",
)


def notices(fd: Frontdesk, to: str) -> list[str]:
    """The text of every new-sign-in email to `to`, oldest first."""
    return [m.text_body for m in outbox(fd, "new_sign_in", to=to)]


def log_in(fd: Frontdesk, username: str, ctx: RequestContext) -> str:
    return fd.call(login_with_password, username, PASSWORD, False, ctx).issued.token


def owner(fd: Frontdesk, username: str = "olive") -> User:
    """An account whose first sign-in was from HOME."""
    user = make_user(fd, username=username, email=f"{username}@example.com")
    log_in(fd, username, HOME)
    assert notices(fd, user.email) == []  # the first recorded sign-in is never news
    return user


def live(fd: Frontdesk, token: str, *, is_api_key: bool = False) -> bool:
    return fd.read(authenticate, token, is_api_key=is_api_key) is not None


def test_a_new_browser_os_or_country_emails_the_owner_and_a_known_one_does_not(fd: Frontdesk) -> None:
    olive = owner(fd)
    log_in(fd, "olive", HOME)
    assert notices(fd, olive.email) == []
    log_in(fd, "olive", STRANGER)  # another browser and OS, same country
    [text] = notices(fd, olive.email)
    assert "Chrome on Windows" in text and "Germany" in text and GERMANY in text
    assert fd.deps.clock.now().strftime("%Y-%m-%d %H:%M UTC") in text
    assert "/sign-ins/not-me?token=" in text and "90 days" in text and "7 days" in text
    log_in(fd, "olive", STRANGER)  # known now
    log_in(fd, "olive", HOME)
    assert len(notices(fd, olive.email)) == 1
    log_in(fd, "olive", ABROAD)  # the same browser, from another country
    assert len(notices(fd, olive.email)) == 2 and "United States" in notices(fd, olive.email)[-1]
    [email] = outbox(fd, "new_sign_in", to=olive.email)[:1]
    assert email.subject == "New sign-in to your frontdesk account from a new device"
    with fd.factory() as db:
        events = list(db.scalars(select(AuthEvent.event).where(AuthEvent.user_id == olive.id)))
        assert events.count("new_device.notified") == 2
        devices = db.scalars(select(SignInDevice).where(SignInDevice.user_id == olive.id)).all()
        assert {(d.browser, d.operating_system, d.country) for d in devices} == {
            ("Firefox", "Linux", "Germany"),
            ("Chrome", "Windows", "Germany"),
            ("Firefox", "Linux", "United States"),
        }
        stored = db.scalars(select(NewDeviceNotice).where(NewDeviceNotice.user_id == olive.id)).all()
        assert len(stored) == 2
        for row in stored:  # only the hash of the link's token is held
            assert len(row.token_hash) == 32 and token_from(email) not in repr(row)


def test_the_signup_confirmation_is_the_first_sign_in(fd: Frontdesk) -> None:
    fd.call(request_signup, email="sam@example.com", username="sam", password=PASSWORD, name="Sam", ctx=HOME)
    fd.call(confirm_signup, token_from(outbox(fd, "signup_confirm", to="sam@example.com")[-1]), HOME)
    log_in(fd, "sam", HOME)  # the signup's device
    assert notices(fd, "sam@example.com") == []
    log_in(fd, "sam", STRANGER)  # the second sign-in, from elsewhere, is news
    assert len(notices(fd, "sam@example.com")) == 1


def test_a_device_unused_for_90_days_is_new_again(fd: Frontdesk, clock: FrozenClock) -> None:
    olive = owner(fd)
    clock.advance(timedelta(days=89))
    log_in(fd, "olive", HOME)
    assert notices(fd, olive.email) == []
    clock.advance(timedelta(days=91))
    log_in(fd, "olive", HOME)
    assert len(notices(fd, olive.email)) == 1


def test_every_way_of_signing_in_is_watched(fd: Frontdesk) -> None:
    """The hook is the one place sign-ins make sessions: a sign-in link, a passkey and a reset
    from a new device are news too; a session that is no sign-in (an API key) is not."""
    olive = owner(fd)
    fd.call(request_login_link, "olive", HOME)
    fd.call(consume_login_link, token_from(outbox(fd, "login_link", to=olive.email)[-1]), False, STRANGER)
    assert len(notices(fd, olive.email)) == 1
    phone = RequestContext(ip_address=GERMANY, user_agent=OTHER_AGENTS[-1])
    fd.call(open_session, olive, long_lived=False, factors=("passkey",), ctx=phone)
    assert len(notices(fd, olive.email)) == 2
    fd.call(request_password_reset, "olive", ABROAD)
    fd.call(complete_password_reset, token_from(outbox(fd, "password_reset", to=olive.email)[-1]), NEW_PASSWORD, ABROAD)
    assert len(notices(fd, olive.email)) == 3
    api_key = RequestContext(ip_address=UNITED_STATES, user_agent="curl/8.5.0")
    make_session(fd, olive, is_api_key=True, long_lived=True, ctx=api_key)
    assert len(notices(fd, olive.email)) == 3


def sample(outcome: str) -> float:
    return REGISTRY.get_sample_value("frontdesk_new_device_notices_total", {"outcome": outcome}) or 0.0


def test_a_burst_from_one_new_device_sends_one_email(fd: Frontdesk) -> None:
    olive = owner(fd)
    sent = sample("sent")
    for _ in range(5):
        log_in(fd, "olive", STRANGER)
    assert len(notices(fd, olive.email)) == 1
    assert sample("sent") == sent + 1


def test_50_simultaneous_sign_ins_from_one_new_device_send_one_email(settings: Settings, clock: FrozenClock) -> None:
    with racing_frontdesk(settings, clock) as fd:
        olive = owner(fd)

        def sign_in(_: int) -> str:
            return fd.call(open_session, olive, long_lived=False, factors=("password",), ctx=STRANGER).issued.token

        tokens = all_at_once(N, sign_in)
        assert len(set(tokens)) == N
        assert len(notices(fd, olive.email)) == 1
        with fd.factory() as db:
            assert db.scalar(select(func.count()).select_from(NewDeviceNotice)) == 1


def test_many_new_devices_at_once_are_capped_per_account(fd: Frontdesk, settings: Settings) -> None:
    olive = owner(fd)
    devices = [RequestContext(ip_address=GERMANY, user_agent=agent) for agent in OTHER_AGENTS]
    assert len(devices) > settings.emails_per_address
    for ctx in devices:
        log_in(fd, "olive", ctx)
    assert len(notices(fd, olive.email)) == settings.emails_per_address
    with fd.factory() as db:
        suppressed = db.scalars(select(AuthEvent).where(AuthEvent.event == "new_device.suppressed")).all()
    assert len(suppressed) == len(devices) - settings.emails_per_address


def _stranger_signs_in(fd: Frontdesk) -> tuple[User, str, str, str, str]:
    """olive signed in at HOME with a browser and an API key; a stranger signs in twice from a new
    device. Returns olive, her session and key, one of the stranger's sessions, the notice's token."""
    olive = owner(fd)
    mine = log_in(fd, "olive", HOME)
    key = make_session(fd, olive, is_api_key=True, long_lived=True, ctx=HOME).token
    theirs = log_in(fd, "olive", STRANGER)
    log_in(fd, "olive", STRANGER)
    [email] = outbox(fd, "new_sign_in", to=olive.email)
    return olive, mine, key, theirs, token_from(email)


def test_not_me_ends_that_devices_sessions_and_sends_a_reset(fd: Frontdesk) -> None:
    olive, mine, key, theirs, token = _stranger_signs_in(fd)
    used = sample("not_me")
    view = fd.read(view_notice, token)
    assert view is not None and view.device == "Chrome on Windows" and view.location == "Germany"
    assert fd.read(view_notice, token) is not None  # looking uses nothing
    assert fd.call(disown_sign_in, token, False, HOME) == 2  # both of the stranger's sessions
    assert not live(fd, theirs)
    assert live(fd, mine) and live(fd, key, is_api_key=True)  # the owner's stay
    assert sample("not_me") == used + 1
    with fd.factory() as db:
        strangers = db.scalars(
            select(UserSession).where(UserSession.user_id == olive.id, UserSession.user_agent == CHROME_WINDOWS)
        ).all()
        assert len(strangers) == 2 and all(s.deleted is not None for s in strangers)
        assert db.scalars(select(AuthEvent.detail).where(AuthEvent.event == "new_device.disowned")).all() == [
            "end_all=false sessions_ended=2"
        ]
    [reset] = outbox(fd, "sign_in_disowned", to=olive.email)
    assert "signed out that device" in reset.text_body
    result = fd.call(complete_password_reset, token_from(reset), NEW_PASSWORD, HOME)
    assert result.user.id == olive.id
    # the device is unknown again: the stranger signing in again is news again
    fd.call(login_with_password, "olive", NEW_PASSWORD, False, STRANGER)
    assert len(notices(fd, olive.email)) == 2


def test_not_me_with_end_all_ends_every_session_and_key(fd: Frontdesk) -> None:
    olive, mine, key, theirs, token = _stranger_signs_in(fd)
    assert fd.call(disown_sign_in, token, True, HOME) == 5  # with the owner's first sign-in's
    assert not live(fd, theirs) and not live(fd, mine) and not live(fd, key, is_api_key=True)
    [reset] = outbox(fd, "sign_in_disowned", to=olive.email)
    assert "every device and API key" in reset.text_body


def test_a_bad_not_me_link_changes_nothing(fd: Frontdesk, clock: FrozenClock) -> None:
    olive, mine, key, theirs, token = _stranger_signs_in(fd)
    for bad in ("", "x" * 43, "x" * 5000, token + "x"):
        with pytest.raises(TokenInvalid):
            fd.call(disown_sign_in, bad, True, HOME)
        assert fd.read(view_notice, bad) is None
    assert live(fd, theirs) and live(fd, mine) and live(fd, key, is_api_key=True)
    clock.advance(timedelta(days=7, minutes=1))
    with pytest.raises(TokenInvalid):
        fd.call(disown_sign_in, token, True, HOME)
    assert fd.read(view_notice, token) is None
    with fd.factory() as db:  # nothing was ended (the short sessions idled out on their own)
        ended = db.scalars(select(UserSession).where(UserSession.user_id == olive.id, UserSession.deleted.is_not(None)))
        assert ended.all() == []
    assert outbox(fd, "sign_in_disowned") == []


def test_a_used_link_or_a_deleted_account_is_refused(fd: Frontdesk) -> None:
    olive, mine, _, _theirs, token = _stranger_signs_in(fd)
    fd.call(disown_sign_in, token, False, HOME)
    with pytest.raises(TokenInvalid):
        fd.call(disown_sign_in, token, True, HOME)
    assert live(fd, mine) and len(outbox(fd, "sign_in_disowned")) == 1
    log_in(fd, "olive", STRANGER)
    second = token_from(outbox(fd, "new_sign_in", to=olive.email)[-1])
    fd.call(delete_own_account, principal(fd, mine), HOME)
    with pytest.raises(TokenInvalid):
        fd.call(disown_sign_in, second, False, HOME)


def test_a_not_me_link_used_50_times_at_once_works_once(settings: Settings, clock: FrozenClock) -> None:
    with racing_frontdesk(settings, clock) as fd:
        olive, _mine, _, theirs, token = _stranger_signs_in(fd)

        def use(n: int) -> str:
            try:
                fd.call(disown_sign_in, token, n % 2 == 0, HOME)
            except TokenInvalid:
                return "invalid"
            return "ok"

        results = all_at_once(N, use)
        assert results.count("ok") == 1 and results.count("invalid") == N - 1
        assert len(outbox(fd, "sign_in_disowned", to=olive.email)) == 1
        assert not live(fd, theirs)


def test_a_sign_in_with_a_second_step_is_told_after_the_second_step(fd: Frontdesk, clock: FrozenClock) -> None:
    olive = owner(fd)
    secret = fd.call(begin_totp_enrolment, olive.id, HOME).secret
    fd.call(confirm_totp, olive.id, pyotp.TOTP(secret).at(clock.now()), HOME)
    clock.advance(timedelta(seconds=30))
    with pytest.raises(SecondFactorRequired) as pending:
        fd.call(login_with_password, "olive", PASSWORD, False, STRANGER)
    assert notices(fd, olive.email) == []  # a password alone made no session: nothing to tell yet
    fd.call(complete_second_factor, pending.value.challenge, STRANGER, totp_code=pyotp.TOTP(secret).at(clock.now()))
    [text] = notices(fd, olive.email)
    assert "Chrome on Windows" in text


def test_cleanup_forgets_devices_unused_for_the_window_but_each_accounts_latest(
    fd: Frontdesk, clock: FrozenClock
) -> None:
    olive = owner(fd)
    log_in(fd, "olive", STRANGER)
    clock.advance(timedelta(days=30))
    log_in(fd, "olive", ABROAD)
    quiet = owner(fd, "quentin")
    clock.advance(timedelta(days=50))
    assert cleanup(fd.factory, fd.deps, timedelta(days=30)).sign_in_devices == 0  # all used within 90 days
    clock.advance(timedelta(days=30))  # olive's HOME and STRANGER: 110 days unused
    assert cleanup(fd.factory, fd.deps, timedelta(days=30)).sign_in_devices == 2
    clock.advance(timedelta(days=100))  # every account's latest device stays, however old
    assert cleanup(fd.factory, fd.deps, timedelta(days=30)).sign_in_devices == 0
    with fd.factory() as db:
        kept = db.execute(select(SignInDevice.user_id, SignInDevice.country)).all()
    assert sorted(tuple(k) for k in kept) == sorted([(olive.id, "United States"), (quiet.id, "Germany")])
    log_in(fd, "quentin", STRANGER)  # so a long-quiet account's next sign-in is news, not a first
    assert len(notices(fd, quiet.email)) == 1
