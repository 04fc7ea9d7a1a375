"""Security keys and passkeys, verified by py_webauthn against a software authenticator."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.clock import FrozenClock
from frontdesk.errors import InvalidInput, NotFound
from frontdesk.models import AuthEvent, WebAuthnCredential
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import RequestContext
from frontdesk.service.factors import has_second_factor, methods
from frontdesk.service.recovery import recovery_codes_left
from frontdesk.service.webauthn import (
    CHALLENGE_TTL,
    authentication_options,
    register_credential,
    registration_options,
    remove_credential,
    verify_assertion,
)
from frontdesk.settings import Settings
from tests.factories import make_user
from tests.service.authenticator import SoftAuthenticator, b64url
from tests.service.racing import N, all_at_once, racing_frontdesk

CTX = RequestContext(ip_address="198.51.100.9", user_agent="pytest")


def registered(fd: Frontdesk, **kwargs: Any) -> tuple[int, SoftAuthenticator]:
    user = make_user(fd)
    key = SoftAuthenticator(**kwargs)
    options = fd.call(registration_options, user.id)
    fd.call(register_credential, user.id, "my key", key.register(options), CTX)
    return user.id, key


def second_step(fd: Frontdesk, user_id: int, key: SoftAuthenticator, **kwargs: Any) -> WebAuthnCredential | None:
    options = fd.call(authentication_options, user_id=user_id)
    return fd.call(verify_assertion, key.assertion(options, **kwargs), CTX, user_id=user_id)


def test_registration_options_follow_the_contract(fd: Frontdesk) -> None:
    user = make_user(fd, username="dora")
    options = fd.call(registration_options, user.id)
    assert options["rp"] == {"id": "127.0.0.1", "name": "frontdesk"}
    assert options["user"]["name"] == "dora"
    assert options["user"]["id"] != b64url(str(user.id).encode())  # an opaque handle, not the id
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["attestation"] == "none"
    assert options["extensions"] == {"credProps": True}
    assert options["excludeCredentials"] == []


def test_rp_id_and_origins_come_from_settings(settings: Settings) -> None:
    custom = settings.model_copy(
        update={"public_url": "https://auth.example.com", "allowed_origins": ("https://app.example.com",)}
    )
    assert custom.rp_id == "auth.example.com"
    assert custom.webauthn_origins == ["https://auth.example.com", "https://app.example.com"]
    assert custom.model_copy(update={"webauthn_rp_id": "example.com"}).rp_id == "example.com"


def test_registering_stores_the_credential_and_makes_codes_once(fd: Frontdesk) -> None:
    user = make_user(fd)
    first, second = SoftAuthenticator(), SoftAuthenticator(discoverable=False)
    response = first.register(fd.call(registration_options, user.id))
    made = fd.call(register_credential, user.id, " Yubikey ", response, CTX)
    assert made.passkey and made.recovery_codes is not None and len(made.recovery_codes) == 10
    options = fd.call(registration_options, user.id)
    assert [d["id"] for d in options["excludeCredentials"]] == [b64url(first.credential_id)]
    assert options["user"]["id"] == b64url(first.user_handle or b"")  # one handle per user
    again = fd.call(register_credential, user.id, "backup key", second.register(options), CTX)
    assert not again.passkey and again.recovery_codes is None
    with fd.factory() as db:
        rows = list(db.scalars(select(WebAuthnCredential).where(WebAuthnCredential.user_id == user.id)))
    assert [r.name for r in rows] == ["Yubikey", "backup key"]
    assert rows[0].transports == "usb,nfc" and rows[0].aaguid == "01234567-89ab-cdef-0123-456789abcdef"
    assert rows[0].sign_count == 1
    assert fd.read(has_second_factor, user.id)
    assert fd.read(methods, user.id) == ["webauthn", "recovery_code"]


@pytest.mark.parametrize("problem", ["origin", "reused", "other_user", "expired", "garbage", "name"])
def test_bad_registrations_store_nothing(fd: Frontdesk, clock: FrozenClock, problem: str) -> None:
    user, other = make_user(fd), make_user(fd)
    key = SoftAuthenticator()
    options = fd.call(registration_options, other.id if problem == "other_user" else user.id)
    response: dict[str, Any] = key.register(options, origin="https://evil.example" if problem == "origin" else None)
    name = "key"
    if problem == "reused":
        fd.call(register_credential, user.id, "key", response, CTX)
        response = SoftAuthenticator().register(options)
    elif problem == "expired":
        clock.advance(CHALLENGE_TTL * 2)
    elif problem == "garbage":
        response = {"id": "x", "response": {"clientDataJSON": "!!"}}
    elif problem == "name":
        name = " "
    before = fd.read(lambda db, _deps: len(list(db.scalars(select(WebAuthnCredential)))))
    with pytest.raises(InvalidInput):
        fd.call(register_credential, user.id, name, response, CTX)
    after = fd.read(lambda db, _deps: len(list(db.scalars(select(WebAuthnCredential)))))
    assert after == before


def test_a_key_passes_a_second_step_once_per_challenge(fd: Frontdesk) -> None:
    user_id, key = registered(fd)
    options = fd.call(authentication_options, user_id=user_id)
    assert [d["id"] for d in options["allowCredentials"]] == [b64url(key.credential_id)]
    assert options["userVerification"] == "preferred"
    answer = key.assertion(options, user_verified=False)
    found = fd.call(verify_assertion, answer, CTX, user_id=user_id)
    assert found is not None and found.user_id == user_id
    assert fd.call(verify_assertion, answer, CTX, user_id=user_id) is None  # the challenge is used up


def test_a_second_step_refuses_another_users_key_or_origin(fd: Frontdesk) -> None:
    alice_id, _ = registered(fd)
    mallory_id, mallory_key = registered(fd)
    options = fd.call(authentication_options, user_id=alice_id)
    assert fd.call(verify_assertion, mallory_key.assertion(options), CTX, user_id=alice_id) is None
    options = fd.call(authentication_options, user_id=mallory_id)
    assert fd.call(verify_assertion, mallory_key.assertion(options), CTX, user_id=alice_id) is None
    options = fd.call(authentication_options, user_id=mallory_id)
    evil = mallory_key.assertion(options, origin="https://evil.example")
    assert fd.call(verify_assertion, evil, CTX, user_id=mallory_id) is None
    options = fd.call(authentication_options, user_id=mallory_id)
    forged = mallory_key.assertion(options)
    forged["response"]["signature"] = SoftAuthenticator().assertion(options)["response"]["signature"]
    assert fd.call(verify_assertion, forged, CTX, user_id=mallory_id) is None
    assert second_step(fd, mallory_id, mallory_key) is not None  # the genuine key still works


def test_passkey_sign_in_needs_user_verification(fd: Frontdesk) -> None:
    user_id, key = registered(fd)
    options = fd.call(authentication_options, user_id=None)
    assert options["userVerification"] == "required" and options["allowCredentials"] == []
    assert fd.call(verify_assertion, key.assertion(options, user_verified=False), CTX, user_id=None) is None
    options = fd.call(authentication_options, user_id=None)
    found = fd.call(verify_assertion, key.assertion(options), CTX, user_id=None)
    assert found is not None and found.user_id == user_id


def test_a_passkey_challenge_is_not_a_second_step_challenge(fd: Frontdesk) -> None:
    user_id, key = registered(fd)
    options = fd.call(authentication_options, user_id=None)
    assert fd.call(verify_assertion, key.assertion(options), CTX, user_id=user_id) is None


def test_zero_counters_are_fine(fd: Frontdesk) -> None:
    user_id, key = registered(fd, counting=False, backup_eligible=True)
    for _ in range(3):
        assert second_step(fd, user_id, key) is not None


def test_a_counter_that_goes_back_is_refused_and_audited(fd: Frontdesk) -> None:
    user_id, key = registered(fd)
    assert second_step(fd, user_id, key) is not None  # counter 2
    assert second_step(fd, user_id, key, count=2) is None  # not forward
    assert second_step(fd, user_id, key, count=1) is None  # backward
    with fd.factory() as db:
        events = list(db.scalars(select(AuthEvent).where(AuthEvent.event == "webauthn.counter_regressed")))
    assert len(events) == 2 and events[0].user_id == user_id
    assert second_step(fd, user_id, key, count=7) is not None  # a genuine later use still works


def test_removing_keys(fd: Frontdesk) -> None:
    user_id, _ = registered(fd)
    other_id, _ = registered(fd)
    with fd.factory() as db:
        mine = db.scalars(select(WebAuthnCredential.id).where(WebAuthnCredential.user_id == user_id)).one()
    with pytest.raises(NotFound):
        fd.call(remove_credential, other_id, mine, CTX)
    assert fd.read(recovery_codes_left, user_id) == 10
    fd.call(remove_credential, user_id, mine, CTX)
    assert not fd.read(has_second_factor, user_id)
    assert fd.read(recovery_codes_left, user_id) == 0


def test_one_assertion_used_50_times_at_once_works_once(settings: Settings, clock: FrozenClock) -> None:
    with racing_frontdesk(settings, clock) as fd:
        user_id, key = registered(fd, counting=False)
        answer = key.assertion(fd.call(authentication_options, user_id=user_id))
        results = all_at_once(N, lambda _: fd.call(verify_assertion, answer, CTX, user_id=user_id))
        assert sum(r is not None for r in results) == 1
