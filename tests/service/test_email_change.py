"""Email change approved by both addresses (contract section 7), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from frontdesk.clock import FrozenClock
from frontdesk.errors import Forbidden, InvalidCredentials, InvalidEmail, InvalidInput, TokenInvalid
from frontdesk.models import Identity, User
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import Principal, RequestContext
from frontdesk.service.email_change import confirm_email_change, request_email_change, revert_email_change
from frontdesk.service.login import consume_login_link, login_with_password, request_login_link
from frontdesk.service.reset import complete_password_reset, request_password_reset
from frontdesk.service.sessions import authenticate
from frontdesk.settings import Settings
from tests.factories import PASSWORD, make_session, make_user
from tests.mailbox import outbox, token_from
from tests.service.racing import N, all_at_once, racing_frontdesk

CTX = RequestContext(ip_address="198.51.100.4", user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0")
ATTACKER = "a passphrase only the thief knows"


def principal(fd: Frontdesk, token: str, *, is_api_key: bool = False) -> Principal:
    found = fd.read(authenticate, token, is_api_key=is_api_key)
    assert found is not None
    return found


def signed_in(fd: Frontdesk, user: User) -> tuple[str, Principal]:
    issued = make_session(fd, user)
    return issued.token, principal(fd, issued.token)


def last_token(fd: Frontdesk, kind: str, to: str) -> str:
    return token_from(outbox(fd, kind, to=to)[-1])


def user_row(fd: Frontdesk, user_id: int) -> User:
    with fd.factory() as db:
        user = db.get(User, user_id)
        assert user is not None
        return user


def change(fd: Frontdesk, who: Principal, new_email: str) -> str:
    """Request and confirm a change; returns the undo token sent to the old address."""
    old = user_row(fd, who.user_id).email
    fd.call(request_email_change, who, new_email, CTX)
    assert fd.call(confirm_email_change, last_token(fd, "email_change_confirm", new_email), CTX) == new_email
    return last_token(fd, "email_changed", old)


def test_both_addresses_are_asked_and_the_change_needs_the_new_inbox(fd: Frontdesk) -> None:
    alice = make_user(fd, username="alice", email="alice@example.com")
    _, me = signed_in(fd, alice)
    fd.call(request_email_change, me, "Alice.New@Example.com", CTX)
    assert user_row(fd, alice.id).email == "alice@example.com"  # nothing until confirmed
    notice = outbox(fd, "email_change_requested", to="alice@example.com")
    assert len(notice) == 1 and "Alice.New@example.com" in notice[0].text_body and "198.51.100.4" in notice[0].text_body
    assert "token=" not in notice[0].text_body
    token = last_token(fd, "email_change_confirm", "Alice.New@example.com")
    assert fd.call(confirm_email_change, token, CTX) == "Alice.New@example.com"
    assert user_row(fd, alice.id).email_key == "alice.new@example.com"
    with pytest.raises(TokenInvalid):  # once
        fd.call(confirm_email_change, token, CTX)
    changed = outbox(fd, "email_changed", to="alice@example.com")
    assert len(changed) == 1 and "token=" in changed[0].text_body
    # the new address signs in; the old one no longer does
    assert fd.call(login_with_password, "alice.new@example.com", PASSWORD, False, CTX)
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "alice@example.com", PASSWORD, False, CTX)


def test_a_taken_address_changes_nothing_and_its_owner_is_told(fd: Frontdesk) -> None:
    alice = make_user(fd, username="alice", email="alice@example.com")
    make_user(fd, username="bob", email="bob@example.com", name="Bob")
    _, me = signed_in(fd, alice)
    fd.call(request_email_change, me, "carol@example.com", CTX)
    fd.call(request_email_change, me, "BOB@example.com", CTX)
    assert outbox(fd, "email_change_confirm", to="BOB@example.com") == []
    assert outbox(fd, "email_change_confirm", to="bob@example.com") == []
    told = outbox(fd, "email_change_taken", to="bob@example.com")
    assert len(told) == 1 and "token=" not in told[0].text_body
    free, taken = outbox(fd, "email_change_requested", to="alice@example.com")
    # the old address's notice is the same either way (only the typed address differs)
    assert free.subject == taken.subject
    assert free.text_body.replace("carol@example.com", "X") == taken.text_body.replace("BOB@example.com", "X")
    assert user_row(fd, alice.id).email == "alice@example.com"


def test_bad_requests_change_nothing(fd: Frontdesk) -> None:
    alice = make_user(fd, username="alice", email="alice@example.com")
    _, me = signed_in(fd, alice)
    with pytest.raises(InvalidEmail):
        fd.call(request_email_change, me, "not an address", CTX)
    with pytest.raises(InvalidInput):
        fd.call(request_email_change, me, "ALICE@example.com", CTX)
    key = make_session(fd, alice, is_api_key=True, long_lived=True)
    with pytest.raises(Forbidden):
        fd.call(request_email_change, principal(fd, key.token, is_api_key=True), "a2@example.com", CTX)
    assert outbox(fd, "email_change_confirm") == []
    with pytest.raises(TokenInvalid):
        fd.call(confirm_email_change, "x" * 43, CTX)
    with pytest.raises(TokenInvalid):
        fd.call(revert_email_change, "x" * 43, CTX)


def test_a_new_request_replaces_the_pending_one_and_links_expire(fd: Frontdesk, clock: FrozenClock) -> None:
    alice = make_user(fd, username="alice")
    _, me = signed_in(fd, alice)
    fd.call(request_email_change, me, "first@example.com", CTX)
    first = last_token(fd, "email_change_confirm", "first@example.com")
    fd.call(request_email_change, me, "second@example.com", CTX)
    second = last_token(fd, "email_change_confirm", "second@example.com")
    with pytest.raises(TokenInvalid):
        fd.call(confirm_email_change, first, CTX)
    clock.advance(timedelta(hours=24, seconds=1))
    with pytest.raises(TokenInvalid):
        fd.call(confirm_email_change, second, CTX)


def test_pending_email_links_die_when_the_address_changes(fd: Frontdesk) -> None:
    alice = make_user(fd, username="alice", email="alice@example.com")
    _, me = signed_in(fd, alice)
    fd.call(request_login_link, "alice", CTX)
    fd.call(request_password_reset, "alice", CTX)
    login = last_token(fd, "login_link", "alice@example.com")
    reset = last_token(fd, "password_reset", "alice@example.com")
    change(fd, me, "new@example.com")
    with pytest.raises(TokenInvalid):
        fd.call(consume_login_link, login, False, CTX)
    with pytest.raises(TokenInvalid):
        fd.call(complete_password_reset, reset, "another good passphrase", CTX)


def test_the_undo_restores_the_address_ends_every_session_and_sends_a_reset(fd: Frontdesk) -> None:
    alice = make_user(fd, username="alice", email="alice@example.com")
    token, me = signed_in(fd, alice)
    key = make_session(fd, alice, is_api_key=True, long_lived=True)
    undo = change(fd, me, "new@example.com")
    fd.call(request_login_link, "new@example.com", CTX)
    link = last_token(fd, "login_link", "new@example.com")
    fd.call(revert_email_change, undo, CTX)
    row = user_row(fd, alice.id)
    assert (row.email, row.email_key) == ("alice@example.com", "alice@example.com")
    assert fd.read(authenticate, token, is_api_key=False) is None
    assert fd.read(authenticate, key.token, is_api_key=True) is None
    with pytest.raises(TokenInvalid):
        fd.call(consume_login_link, link, False, CTX)
    with pytest.raises(TokenInvalid):  # once
        fd.call(revert_email_change, undo, CTX)
    # the password is kept; the reset link reaches the old address
    assert fd.call(login_with_password, "alice@example.com", PASSWORD, False, CTX)
    reset = last_token(fd, "email_reverted", "alice@example.com")
    assert fd.call(complete_password_reset, reset, "another good passphrase", CTX)


def test_the_takeover_chain_fails(fd: Frontdesk) -> None:
    """Mallory holds a fresh session of Alice's: she swaps the email to her inbox, resets the password
    there, links her own social identity and swaps again. Alice's one undo link wins: her address
    and password are back, and nothing of Mallory's way in is left."""
    alice = make_user(fd, username="alice", email="alice@example.com")
    alice_token, _ = signed_in(fd, alice)
    _, stolen = signed_in(fd, alice)
    undo_for_alice = change(fd, stolen, "mallory@evil.example")
    fd.call(request_password_reset, "mallory@evil.example", CTX)
    result = fd.call(complete_password_reset, last_token(fd, "password_reset", "mallory@evil.example"), ATTACKER, CTX)
    assert fd.read(authenticate, alice_token, is_api_key=False) is None  # Alice is out, for now
    with fd.transaction() as db:
        db.add(
            Identity(
                user_id=alice.id,
                provider="corp",
                issuer="https://idp.evil.example",
                subject="m",
                email="mallory@evil.example",
                created=fd.deps.clock.now(),
                last_used=fd.deps.clock.now(),
            )
        )
    mallory = principal(fd, result.issued.token)
    undo_for_mallory = change(fd, mallory, "mallory2@evil.example")
    # Mallory's own undo link (to her first inbox) does not cancel Alice's, and she can't keep a key
    fd.call(revert_email_change, undo_for_mallory, CTX)
    fd.call(revert_email_change, undo_for_alice, CTX)

    row = user_row(fd, alice.id)
    assert row.email == "alice@example.com"
    assert fd.read(authenticate, result.issued.token, is_api_key=False) is None
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "alice", ATTACKER, False, CTX)
    assert fd.call(login_with_password, "alice", PASSWORD, False, CTX)  # Alice's own password is back
    with fd.factory() as db:
        assert db.scalar(select(func.count()).select_from(Identity).where(Identity.user_id == alice.id)) == 0
    # every link Mallory was sent is dead; Alice's reset link works
    for email in outbox(fd, to="mallory@evil.example") + outbox(fd, to="mallory2@evil.example"):
        if "token=" in email.text_body:
            for use in (
                lambda t: fd.call(complete_password_reset, t, ATTACKER + "!", CTX),
                lambda t: fd.call(confirm_email_change, t, CTX),
                lambda t: fd.call(revert_email_change, t, CTX),
                lambda t: fd.call(consume_login_link, t, False, CTX),
            ):
                with pytest.raises(TokenInvalid):
                    use(token_from(email))
    reset = last_token(fd, "email_reverted", "alice@example.com")
    assert fd.call(complete_password_reset, reset, "a completely fresh phrase", CTX)


def test_an_undo_to_an_address_taken_since_is_refused_and_stays_usable(fd: Frontdesk) -> None:
    alice = make_user(fd, username="alice", email="alice@example.com")
    _, me = signed_in(fd, alice)
    undo = change(fd, me, "new@example.com")
    carol = make_user(fd, username="carol", email="Alice@example.com")
    with pytest.raises(TokenInvalid):
        fd.call(revert_email_change, undo, CTX)
    assert user_row(fd, alice.id).email == "new@example.com"
    with fd.transaction() as db:  # Carol leaves the address again
        row = db.get(User, carol.id)
        assert row is not None
        row.email, row.email_key = "carol@example.com", "carol@example.com"
    fd.call(revert_email_change, undo, CTX)
    assert user_row(fd, alice.id).email == "alice@example.com"


def test_an_undo_link_used_50_times_at_once_works_once(settings: Settings, clock: FrozenClock) -> None:
    with racing_frontdesk(settings, clock) as fd:
        alice = make_user(fd, username="alice", email="alice@example.com")
        _, me = signed_in(fd, alice)
        undo = change(fd, me, "new@example.com")

        def use(_: int) -> str:
            try:
                fd.call(revert_email_change, undo, CTX)
            except TokenInvalid:
                return "invalid"
            return "ok"

        results = all_at_once(N, use)
        assert results.count("ok") == 1 and results.count("invalid") == N - 1
        assert len(outbox(fd, "email_reverted", to="alice@example.com")) == 1
