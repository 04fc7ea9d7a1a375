"""Deleting an account with a grace period, restoring it, and erasing it (contract section 7),
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import Table, select

from frontdesk.clock import FrozenClock
from frontdesk.errors import InvalidCredentials, NotFound, SecondFactorRequired, SocialSignInFailed, TokenInvalid
from frontdesk.models import Base, Identity, User
from frontdesk.oidc_settings import ProviderSettings
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from frontdesk.service.deletion import delete_own_account, erase_now, restore_account, schedule_deletion
from frontdesk.service.email_change import confirm_email_change, request_email_change, revert_email_change
from frontdesk.service.login import consume_login_link, login_with_password, request_login_link
from frontdesk.service.maintenance import cleanup
from frontdesk.service.oauth import ClaimedFlow
from frontdesk.service.oidc_client import Profile
from frontdesk.service.reset import complete_password_reset, request_password_reset
from frontdesk.service.sessions import authenticate
from frontdesk.service.signup import confirm_signup, request_signup
from frontdesk.service.social_accounts import finish_flow
from frontdesk.service.totp import begin_totp_enrolment, confirm_totp
from frontdesk.settings import Settings
from frontdesk.store.lifecycle import ERASED_MODELS
from tests.factories import PASSWORD, make_session, make_user
from tests.mailbox import outbox, token_from
from tests.service.racing import N, all_at_once, racing_frontdesk
from tests.service.test_email_change import CTX, last_token, principal, user_row

GRACE = timedelta(days=7)
PROVIDER = ProviderSettings(
    name="corp",
    label="Corp",
    kind="oidc",
    issuer="https://idp.example",
    client_id="c",
    client_secret="s",
    trust_email=True,
    scopes=("openid", "email"),
)


def social_sign_in(fd: Frontdesk, subject: str, email: str) -> Any:
    claimed = ClaimedFlow(
        "corp", "sign_in", None, "/", False, fd.deps.clock.now(), nonce_hash=b"n" * 32, code_verifier="v"
    )
    profile = Profile("https://idp.example", subject, email, True, None, None)
    return fd.call(finish_flow, PROVIDER, claimed, profile, CTX)


def link_identity(fd: Frontdesk, user: User, subject: str) -> None:
    with fd.transaction() as db:
        now = fd.deps.clock.now()
        db.add(
            Identity(
                user_id=user.id,
                provider="corp",
                issuer="https://idp.example",
                subject=subject,
                email=user.email,
                created=now,
                last_used=now,
            )
        )


def deleted(fd: Frontdesk, **overrides: Any) -> tuple[User, str]:
    """A user who deleted their own account; returns it and the restore token."""
    user = make_user(fd, **overrides)
    me = principal(fd, make_session(fd, user).token)
    fd.call(delete_own_account, me, CTX)
    return user, last_token(fd, "account_deleted", user.email)


def test_deletion_ends_every_session_at_once_and_emails_a_restore_link(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd, username="dora", email="dora@example.com")
    cookie = make_session(fd, user)
    key = make_session(fd, user, is_api_key=True, long_lived=True)
    erase_at = fd.call(delete_own_account, principal(fd, cookie.token), CTX)
    assert erase_at == clock.now() + GRACE
    assert fd.read(authenticate, cookie.token, is_api_key=False) is None
    assert fd.read(authenticate, key.token, is_api_key=True) is None
    email = outbox(fd, "account_deleted", to="dora@example.com")
    assert len(email) == 1 and "/account/restore?token=" in email[0].text_body
    assert erase_at.strftime("%Y-%m-%d") in email[0].text_body


def test_in_the_grace_no_way_in_but_the_restore_link(fd: Frontdesk) -> None:
    user = make_user(fd, username="dora", email="dora@example.com")
    link_identity(fd, user, "dora-at-corp")
    fd.call(request_login_link, "dora", CTX)
    fd.call(request_password_reset, "dora", CTX)
    old_link, old_reset = last_token(fd, "login_link", user.email), last_token(fd, "password_reset", user.email)
    fd.call(delete_own_account, principal(fd, make_session(fd, user).token), CTX)
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "dora", PASSWORD, False, CTX)
    with pytest.raises(TokenInvalid):
        fd.call(consume_login_link, old_link, False, CTX)
    with pytest.raises(TokenInvalid):
        fd.call(complete_password_reset, old_reset, "another good passphrase", CTX)
    fd.call(request_login_link, "dora", CTX)
    fd.call(request_password_reset, "dora", CTX)
    assert len(outbox(fd, "login_link")) == 1 and len(outbox(fd, "password_reset")) == 1  # none sent
    with pytest.raises(SocialSignInFailed):
        social_sign_in(fd, "dora-at-corp", "dora@example.com")
    # a trusted provider's verified email does not sign in (or re-create) the account either
    assert social_sign_in(fd, "someone-else", "dora@example.com").kind == "needs_link"

    result = fd.call(restore_account, last_token(fd, "account_deleted", user.email), False, CTX)
    assert result.user.id == user.id
    assert fd.read(authenticate, result.issued.token, is_api_key=False) is not None
    assert fd.call(login_with_password, "dora", PASSWORD, False, CTX)


def test_a_restore_link_works_once_and_only_within_the_grace(fd: Frontdesk, clock: FrozenClock) -> None:
    _, token = deleted(fd)
    assert fd.call(restore_account, token, False, CTX)
    with pytest.raises(TokenInvalid):
        fd.call(restore_account, token, False, CTX)
    user, late = deleted(fd)
    clock.advance(GRACE + timedelta(seconds=1))
    with pytest.raises(TokenInvalid):
        fd.call(restore_account, late, False, CTX)
    assert user_row(fd, user.id).is_deleted


def test_a_restore_with_a_second_factor_goes_on_to_the_second_step(fd: Frontdesk, clock: FrozenClock) -> None:
    user = make_user(fd)
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    fd.call(confirm_totp, user.id, pyotp.TOTP(enrolment.secret).at(clock.now()), CTX)
    fd.call(delete_own_account, principal(fd, make_session(fd, user).token), CTX)
    with pytest.raises(SecondFactorRequired):
        fd.call(restore_account, last_token(fd, "account_deleted", user.email), False, CTX)
    assert not user_row(fd, user.id).is_deleted  # restored; the sign-in waits for the second step


def test_restore_links_of_one_account_work_once_under_50_at_once(settings: Settings, clock: FrozenClock) -> None:
    with racing_frontdesk(settings, clock) as fd:
        _, token = deleted(fd)

        def use(_: int) -> str:
            try:
                fd.call(restore_account, token, False, CTX)
            except TokenInvalid:
                return "invalid"
            return "ok"

        assert sorted(all_at_once(N, use)).count("ok") == 1


def test_an_email_swap_then_deletion_is_undone_by_the_owner(fd: Frontdesk) -> None:
    """Mallory swaps the address, then deletes the account so its restore link reaches her: the
    owner's undo link still works, and sends the restore link to the owner instead."""
    alice = make_user(fd, username="alice", email="alice@example.com")
    stolen = principal(fd, make_session(fd, alice).token)
    fd.call(request_email_change, stolen, "mallory@evil.example", CTX)
    fd.call(confirm_email_change, last_token(fd, "email_change_confirm", "mallory@evil.example"), CTX)
    undo = last_token(fd, "email_changed", "alice@example.com")
    fd.call(delete_own_account, stolen, CTX)
    mallorys = last_token(fd, "account_deleted", "mallory@evil.example")
    fd.call(revert_email_change, undo, CTX)
    with pytest.raises(TokenInvalid):
        fd.call(restore_account, mallorys, False, CTX)
    result = fd.call(restore_account, last_token(fd, "account_deleted", "alice@example.com"), False, CTX)
    assert result.user.email == "alice@example.com"


def _rows(fd: Frontdesk, table: Table) -> list[dict[str, Any]]:
    with fd.factory() as db:
        return [dict(row._mapping) for row in db.execute(select(table))]


def test_cleanup_erases_exactly_what_the_contract_lists(fd: Frontdesk, clock: FrozenClock) -> None:
    """Every table is read after erasure (from the metadata, so a new table can't be forgotten):
    no row keeps the person's name, email, password hash, IP address or user agent, and no row of a
    table with a user_id is still theirs except the users row and the (stripped) audit events."""
    ip, agent = "203.0.113.77", "Mozilla/5.0 (Erasable Browser 9.9)"
    ctx = RequestContext(ip_address=ip, user_agent=agent)
    user = make_user(fd, username="erin", email="Erin.Person@example.com", name="Erin Person", ctx=ctx)
    bystander = make_user(fd, username="bea", email="bea@example.com", name="Bea")
    fd.call(login_with_password, "erin", PASSWORD, False, ctx)  # the account's first device
    fd.call(login_with_password, "erin", PASSWORD, False, RequestContext(ip_address=ip, user_agent="curl/8.5.0"))
    make_session(fd, user, ctx=ctx)
    make_session(fd, user, is_api_key=True, long_lived=True, ctx=ctx)
    enrolment = fd.call(begin_totp_enrolment, user.id, ctx)
    fd.call(confirm_totp, user.id, pyotp.TOTP(enrolment.secret).at(clock.now()), ctx)
    link_identity(fd, user, "erin-at-corp")
    me = principal(fd, make_session(fd, user, ctx=ctx).token)
    fd.call(request_email_change, me, "erin.new@example.com", ctx)  # a pending change, a second address
    fd.call(request_login_link, "erin", ctx)
    fd.call(request_login_link, "bea", CTX)
    with fd.factory() as db:
        hashed = db.get(User, user.id).hashed_password  # type: ignore[union-attr]
    assert hashed
    fd.call(delete_own_account, me, ctx)
    restore = last_token(fd, "account_deleted", user.email)

    clock.advance(GRACE - timedelta(minutes=1))
    assert cleanup(fd.factory, fd.deps, timedelta(days=30)).erased_accounts == 0  # not yet
    clock.advance(timedelta(minutes=2))
    report = cleanup(fd.factory, fd.deps, timedelta(days=30), batch_size=100)
    assert report.erased_accounts == 1
    assert cleanup(fd.factory, fd.deps, timedelta(days=30)).erased_accounts == 0

    secrets = {"Erin Person", "erin.person@example.com", "erin.new@example.com", ip, agent, hashed}
    for table in Base.metadata.sorted_tables:
        for row in _rows(fd, table):
            text = " ".join(str(v) for v in row.values()).lower()
            assert not [s for s in secrets if s.lower() in text], (table.name, row)
            if "user_id" in table.c and row["user_id"] == user.id:
                assert table.name == "auth_events", (table.name, row)
    with fd.factory() as db:
        erased = db.get(User, user.id)
        assert erased is not None and erased.username == "erin" and erased.is_deleted and erased.erased_at
        assert db.get(User, bystander.id).email == "bea@example.com"  # type: ignore[union-attr]
    assert {t.name for t in Base.metadata.sorted_tables if "user_id" in t.c} == {
        m.__tablename__ for m in ERASED_MODELS
    } | {"auth_events"}, "a table with a user_id must be erased (store.lifecycle.ERASED_MODELS) or listed here"
    assert outbox(fd, to="bea@example.com")  # other people's emails stay

    # never again: no sign-in, no restore; the username stays taken; the email signs up afresh
    with pytest.raises(TokenInvalid):
        fd.call(restore_account, restore, False, CTX)
    with pytest.raises(InvalidCredentials):
        fd.call(login_with_password, "erin", PASSWORD, False, CTX)
    with pytest.raises(Exception, match="username"):
        fd.call(create_user, email="x@example.com", username="erin", password=PASSWORD, name="X", ctx=CTX)
    fd.call(request_signup, email="erin.person@example.com", username="erin2", password=PASSWORD, name="Erin", ctx=CTX)
    result = fd.call(confirm_signup, last_token(fd, "signup_confirm", "erin.person@example.com"), CTX)
    assert result.user.id != user.id


def test_admins_delete_with_a_grace_or_at_once(fd: Frontdesk) -> None:
    user = make_user(fd, username="gus")
    with fd.transaction() as db:
        row = db.get(User, user.id)
        assert row is not None
        schedule_deletion(db, fd.deps, row, CTX, actor_id=None)
    assert outbox(fd, "account_deleted", to=user.email)
    with fd.transaction() as db, pytest.raises(NotFound):
        schedule_deletion(db, fd.deps, db.get(User, user.id), CTX, actor_id=None)  # type: ignore[arg-type]
    now = make_user(fd, username="hal")
    with fd.transaction() as db:
        erase_now(db, fd.deps, db.get(User, now.id), actor_id=None)  # type: ignore[arg-type]
    row = user_row(fd, now.id)
    assert row.erased_at is not None and row.email == "" and row.hashed_password is None
    assert outbox(fd, to=now.email) == []
    token = token_from(outbox(fd, "account_deleted", to=user.email)[-1])
    assert fd.call(restore_account, token, False, CTX)
