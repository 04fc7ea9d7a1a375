"""Authenticator apps: enrolment, confirmation, codes that work once, removal."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import segno
from pydantic import SecretStr
from sqlalchemy import select

from frontdesk import crypto
from frontdesk.clock import FrozenClock
from frontdesk.errors import InvalidCode, InvalidInput, NotFound, SealBroken
from frontdesk.models import TotpFactor
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import RequestContext
from frontdesk.service.factors import has_second_factor, methods
from frontdesk.service.recovery import recovery_codes_left
from frontdesk.service.totp import (
    TotpEnrolment,
    begin_totp_enrolment,
    confirm_totp,
    pending_enrolment,
    remove_totp,
    verify_totp,
)
from frontdesk.settings import Settings
from tests.factories import make_user
from tests.service.racing import N, all_at_once, racing_frontdesk

CTX = RequestContext(ip_address="198.51.100.7", user_agent="pytest")
STEP = timedelta(seconds=30)


def code(enrolment: TotpEnrolment, clock: FrozenClock, offset: timedelta = timedelta(0)) -> str:
    return pyotp.TOTP(enrolment.secret).at(clock.now() + offset)


def enrolled(fd: Frontdesk, clock: FrozenClock) -> tuple[int, TotpEnrolment]:
    """A user with a confirmed authenticator app; the clock moved past the confirming step."""
    user = make_user(fd)
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    fd.call(confirm_totp, user.id, code(enrolment, clock), CTX)
    clock.advance(STEP)
    return user.id, enrolment


def test_enrolment_gives_secret_uri_and_qr_code(fd: Frontdesk) -> None:
    user = make_user(fd, username="carol")
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    assert re.fullmatch(r"[A-Z2-7]{32}", enrolment.secret)  # 160 bits of base32
    parts = urlsplit(enrolment.otpauth_uri)
    assert (parts.scheme, parts.netloc, parts.path) == ("otpauth", "totp", "/frontdesk:carol")
    query = parse_qs(parts.query)
    assert query["secret"] == [enrolment.secret] and query["issuer"] == ["frontdesk"]
    assert enrolment.qr_svg.startswith("<svg") and "<script" not in enrolment.qr_svg
    assert enrolment.secret not in repr(enrolment)


def test_pending_secret_is_not_a_factor_until_confirmed(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    assert not fd.read(has_second_factor, user.id)
    assert not fd.call(verify_totp, user.id, code(enrolment, clock))
    with pytest.raises(InvalidCode):
        fd.call(confirm_totp, user.id, "000000" if code(enrolment, clock) != "000000" else "111111", CTX)
    codes = fd.call(confirm_totp, user.id, code(enrolment, clock), CTX)
    assert codes is not None and len(codes) == 10
    assert fd.read(has_second_factor, user.id)
    assert fd.read(methods, user.id) == ["totp", "recovery_code"]


def test_confirming_without_a_pending_secret_is_bad_input(fd: Frontdesk) -> None:
    user = make_user(fd)
    with pytest.raises(InvalidInput):
        fd.call(confirm_totp, user.id, "123456", CTX)


def test_the_confirming_code_cannot_sign_in(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    first = code(enrolment, clock)
    fd.call(confirm_totp, user.id, first, CTX)
    assert not fd.call(verify_totp, user.id, first)


def test_a_code_works_once_and_earlier_steps_never_after(fd: Frontdesk, clock: FrozenClock) -> None:
    user_id, enrolment = enrolled(fd, clock)
    now_code = code(enrolment, clock)
    assert fd.call(verify_totp, user_id, now_code)
    assert not fd.call(verify_totp, user_id, now_code)  # replay
    clock.advance(3 * STEP)
    later = code(enrolment, clock, STEP)  # the next step, within the drift window
    assert fd.call(verify_totp, user_id, later)
    assert not fd.call(verify_totp, user_id, code(enrolment, clock))  # earlier than the one used


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_one_step_of_drift_either_way(fd: Frontdesk, clock: FrozenClock, offset: int, accepted: bool) -> None:
    user_id, enrolment = enrolled(fd, clock)
    clock.advance(5 * STEP)
    assert fd.call(verify_totp, user_id, code(enrolment, clock, offset * STEP)) is accepted


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "\uff11\uff12\uff13\uff14\uff15\uff16", "12 34 5"])
def test_malformed_codes_are_refused(fd: Frontdesk, clock: FrozenClock, typed: str) -> None:
    user_id, _ = enrolled(fd, clock)
    assert not fd.call(verify_totp, user_id, typed)


def test_spaces_inside_a_code_are_forgiven(fd: Frontdesk, clock: FrozenClock) -> None:
    user_id, enrolment = enrolled(fd, clock)
    c = code(enrolment, clock)
    assert fd.call(verify_totp, user_id, f"{c[:3]} {c[3:]}")


def test_a_new_enrolment_replaces_the_pending_one_and_keeps_the_active_one(fd: Frontdesk, clock: FrozenClock) -> None:
    user_id, old = enrolled(fd, clock)
    fd.call(begin_totp_enrolment, user_id, CTX)
    newer = fd.call(begin_totp_enrolment, user_id, CTX)
    with fd.factory() as db:
        rows = list(db.scalars(select(TotpFactor).where(TotpFactor.user_id == user_id)))
    assert sorted(r.confirmed for r in rows) == [False, True]
    assert fd.call(verify_totp, user_id, code(old, clock))  # the old app still works meanwhile
    clock.advance(STEP)
    assert fd.call(confirm_totp, user_id, code(newer, clock), CTX) is None  # not the first factor
    clock.advance(STEP)
    assert not fd.call(verify_totp, user_id, code(old, clock))
    assert fd.call(verify_totp, user_id, code(newer, clock))


def test_removing_the_last_factor_removes_recovery_codes(fd: Frontdesk, clock: FrozenClock) -> None:
    user_id, _ = enrolled(fd, clock)
    assert fd.read(recovery_codes_left, user_id) == 10
    fd.call(remove_totp, user_id, CTX)
    assert not fd.read(has_second_factor, user_id)
    assert fd.read(recovery_codes_left, user_id) == 0
    with pytest.raises(NotFound):
        fd.call(remove_totp, user_id, CTX)


def test_the_secret_is_bound_to_its_user(fd: Frontdesk, clock: FrozenClock) -> None:
    """A secret box copied onto another user's row does not open there."""
    alice_id, _ = enrolled(fd, clock)
    mallory = make_user(fd)
    enrolment = fd.call(begin_totp_enrolment, mallory.id, CTX)
    with fd.factory() as db:
        alice_box = db.scalars(select(TotpFactor.secret_box).where(TotpFactor.user_id == alice_id)).one()
        pending = db.scalars(select(TotpFactor).where(TotpFactor.user_id == mallory.id)).one()
        pending.secret_box = alice_box
        db.commit()
    with pytest.raises(SealBroken):
        fd.call(confirm_totp, mallory.id, code(enrolment, clock), CTX)


def test_one_code_used_50_times_at_once_works_once(settings: Settings, clock: FrozenClock) -> None:
    with racing_frontdesk(settings, clock) as fd:
        user_id, enrolment = enrolled(fd, clock)
        c = code(enrolment, clock)
        results = all_at_once(N, lambda _: fd.call(verify_totp, user_id, c))
        assert results.count(True) == 1
        assert not fd.call(verify_totp, user_id, c)


def test_an_enrolment_can_be_confirmed_for_one_hour(fd: Frontdesk, clock: FrozenClock) -> None:
    on_time, late = make_user(fd), make_user(fd)
    first = fd.call(begin_totp_enrolment, on_time.id, CTX)
    second = fd.call(begin_totp_enrolment, late.id, CTX)
    clock.advance(timedelta(hours=1))
    assert fd.call(confirm_totp, on_time.id, code(first, clock), CTX) is not None
    clock.advance(timedelta(microseconds=1))
    with pytest.raises(InvalidInput):
        fd.call(confirm_totp, late.id, code(second, clock), CTX)


def test_the_pending_enrolment_is_shown_again_until_confirmed(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd, username="dora")
    assert fd.read(pending_enrolment, user.id) is None
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    again = fd.read(pending_enrolment, user.id)
    assert again is not None
    assert (again.secret, again.otpauth_uri) == (enrolment.secret, enrolment.otpauth_uri)
    assert "dora" in again.qr_svg
    fd.call(confirm_totp, user.id, code(enrolment, clock), CTX)
    assert fd.read(pending_enrolment, user.id) is None
    assert fd.read(pending_enrolment, user.id + 1000) is None
    with pytest.raises(NotFound):
        fd.call(begin_totp_enrolment, user.id + 1000, CTX)


def test_the_secret_is_sealed_under_a_key_derived_from_frontdesk_secret(settings: Settings, clock: FrozenClock) -> None:
    """With FRONTDESK_SECRET, from it; without (development only), from the empty string."""
    for secret in ("s" * 40, None):
        fd = Frontdesk(settings.model_copy(update={"secret": SecretStr(secret) if secret else None}), clock=clock)
        try:
            user = make_user(fd)
            enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
            with fd.factory() as db:
                box = db.scalars(select(TotpFactor.secret_box).where(TotpFactor.user_id == user.id)).one()
        finally:
            fd.close()
        key = crypto.derive_key(secret or "", "totp-secret")
        assert crypto.unseal(key, box, f"totp:{user.id}".encode()) == enrolment.secret.encode()


def test_the_enrolment_is_fixed_and_its_qr_code_drawn_at_4_px_a_module(fd: Frontdesk) -> None:
    enrolment = fd.call(begin_totp_enrolment, make_user(fd).id, CTX)
    with pytest.raises(dataclasses.FrozenInstanceError):
        enrolment.secret = "AAAA"  # type: ignore[misc]
    width, height = segno.make(enrolment.otpauth_uri, error="m").symbol_size(scale=4)
    assert f'width="{width}"' in enrolment.qr_svg and f'height="{height}"' in enrolment.qr_svg
