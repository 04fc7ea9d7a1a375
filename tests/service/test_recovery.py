"""Recovery codes: made with the first factor, readable, single-use, regenerable."""

from __future__ import annotations

import math
import re

import pyotp
import pytest
from sqlalchemy import select

from frontdesk import crypto
from frontdesk.clock import FrozenClock
from frontdesk.errors import InvalidInput
from frontdesk.models import AuthEvent, RecoveryCode
from frontdesk.runtime import Frontdesk
from frontdesk.service import recovery
from frontdesk.service.context import RequestContext
from frontdesk.service.factors import regenerate_recovery_codes
from frontdesk.service.recovery import recovery_codes_left, use_recovery_code
from frontdesk.service.totp import begin_totp_enrolment, confirm_totp
from frontdesk.settings import Settings
from tests.factories import make_user
from tests.service.racing import N, all_at_once, racing_frontdesk

CTX = RequestContext(ip_address="198.51.100.8", user_agent="pytest")


def with_codes(fd: Frontdesk, clock: FrozenClock) -> tuple[int, list[str]]:
    """A user with an authenticator app and the recovery codes it came with."""
    user = make_user(fd)
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    codes = fd.call(confirm_totp, user.id, pyotp.TOTP(enrolment.secret).at(clock.now()), CTX)
    assert codes is not None
    return user.id, codes


def test_codes_are_readable_and_carry_at_least_112_bits() -> None:
    code = recovery.new_code()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){4}", code)
    bits = recovery.GROUPS * recovery.GROUP_LENGTH * math.log2(len(recovery.ALPHABET))
    assert bits >= 112
    assert len(set(recovery.ALPHABET)) == 32 and not set("ILOU") & set(recovery.ALPHABET)


@pytest.mark.parametrize(
    ("typed", "same"),
    [("lower", True), ("no dashes", True), ("spaces", True), ("look-alikes", True), ("short", False), ("bad", False)],
)
def test_typing_is_forgiving_but_not_loose(typed: str, same: bool) -> None:
    code = "0123I-L0OAB-CDEFG-HJKMN-PQRST".replace("I", "1").replace("L", "1").replace("O", "0")
    variants = {
        "lower": code.lower(),
        "no dashes": code.replace("-", ""),
        "spaces": code.replace("-", " "),
        "look-alikes": code.replace("1", "I", 1).replace("0", "O", 1),
        "short": code[:-1],
        "bad": code[:-1] + "U",
    }
    assert (recovery.normalise(variants[typed]) == recovery.normalise(code)) is same


def test_ten_codes_come_with_the_first_factor_stored_as_sha256(fd: Frontdesk, clock: FrozenClock) -> None:
    user_id, codes = with_codes(fd, clock)
    assert len(codes) == 10 == len(set(codes))
    with fd.factory() as db:
        stored = set(db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user_id)))
    assert stored == {crypto.digest(recovery.normalise(c) or "") for c in codes}


def test_each_code_works_once(fd: Frontdesk, clock: FrozenClock) -> None:
    user_id, codes = with_codes(fd, clock)
    assert fd.call(use_recovery_code, user_id, codes[3].lower(), CTX)
    assert not fd.call(use_recovery_code, user_id, codes[3], CTX)
    assert fd.read(recovery_codes_left, user_id) == 9
    other = make_user(fd)
    assert not fd.call(use_recovery_code, other.id, codes[4], CTX)  # codes belong to their user


def test_regenerating_ends_the_old_set(fd: Frontdesk, clock: FrozenClock) -> None:
    user_id, old = with_codes(fd, clock)
    fd.call(use_recovery_code, user_id, old[0], CTX)
    new = fd.call(regenerate_recovery_codes, user_id, CTX)
    assert fd.read(recovery_codes_left, user_id) == 10
    assert not set(old) & set(new)
    assert not fd.call(use_recovery_code, user_id, old[1], CTX)
    assert fd.call(use_recovery_code, user_id, new[1], CTX)


def test_no_codes_without_a_second_factor(fd: Frontdesk) -> None:
    user = make_user(fd)
    with pytest.raises(InvalidInput):
        fd.call(regenerate_recovery_codes, user.id, CTX)


def test_one_code_used_50_times_at_once_works_once(settings: Settings, clock: FrozenClock) -> None:
    with racing_frontdesk(settings, clock) as fd:
        user_id, codes = with_codes(fd, clock)
        results = all_at_once(N, lambda _: fd.call(use_recovery_code, user_id, codes[0], CTX))
        assert results.count(True) == 1
        assert fd.read(recovery_codes_left, user_id) == 9


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "0123456789ABCDEFGHJKMNPQ",  # 24 characters
        "0123456789ABCDEFGHJKMNPQRS",  # 26
        "0123U-4567A-89ABC-DEFGH-JKMNP",  # U is not in the alphabet
        "0123!-4567A-89ABC-DEFGH-JKMNP",
    ],
)
def test_what_cannot_be_a_code_normalises_to_nothing(typed: str) -> None:
    assert recovery.normalise(typed) is None


def test_a_malformed_code_uses_nothing(fd: Frontdesk, clock: FrozenClock) -> None:
    user_id, codes = with_codes(fd, clock)
    assert not fd.call(use_recovery_code, user_id, codes[0][:-1], CTX)
    assert not fd.call(use_recovery_code, user_id, "", CTX)
    assert fd.read(recovery_codes_left, user_id) == 10


def test_removing_the_codes_is_audited_only_when_there_were_some(fd: Frontdesk, clock: FrozenClock) -> None:
    user_id, _ = with_codes(fd, clock)

    def removals() -> int:
        with fd.factory() as db:
            events = db.scalars(select(AuthEvent.event).where(AuthEvent.user_id == user_id)).all()
        return events.count("recovery_codes.removed")

    fd.call(recovery.remove_recovery_codes, user_id, CTX)
    assert (fd.read(recovery_codes_left, user_id), removals()) == (0, 1)
    fd.call(recovery.remove_recovery_codes, user_id, CTX)  # none left: nothing happened, nothing recorded
    assert removals() == 1
