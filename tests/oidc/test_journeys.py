"""Social sign-in journeys through the real provider's login and consent pages (SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from frontdesk.models import Identity, User
from frontdesk.runtime import Frontdesk
from tests.factories import PASSWORD, make_user
from tests.mailbox import outbox
from tests.oidc.journey import authorize, callback, start


def users(fd: Frontdesk) -> list[User]:
    with fd.factory() as db:
        return list(db.scalars(select(User).order_by(User.id)))


def identities(fd: Frontdesk) -> list[Identity]:
    with fd.factory() as db:
        return list(db.scalars(select(Identity).order_by(Identity.id)))


def test_a_new_identity_with_a_verified_unknown_email_makes_an_account(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    url = authorize(provider_browser, start(frontdesk, query="?next=/welcome&remember_device=1"), "alice")
    answer = callback(frontdesk, url)
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"] == "/welcome"
    session = frontdesk.get("/v1/session").json()
    assert session["logged_in"] is True and session["username"] == "alice" and session["long_lived"] is True
    (user,) = users(social_fd)
    assert (user.email, user.hashed_password) == ("alice@example.com", None)
    (identity,) = identities(social_fd)
    assert (identity.user_id, identity.provider, identity.subject) == (user.id, "corp", "alice")
    listed = frontdesk.get("/v1/identities").json()["identities"]
    assert [(i["provider"], i["email"]) for i in listed] == [("corp", "alice@example.com")]


def test_a_returning_identity_signs_in_to_the_same_account(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    assert callback(frontdesk, authorize(provider_browser, start(frontdesk), "gina")).status_code == 302
    assert frontdesk.post("/v1/logout").status_code == 204
    assert frontdesk.get("/v1/session").json()["logged_in"] is False
    again = callback(frontdesk, authorize(provider_browser, start(frontdesk), "gina"))
    assert again.status_code == 302 and again.headers["location"] == "/account"
    assert frontdesk.get("/v1/session").json()["username"] == "gina"
    assert len(users(social_fd)) == 1 and len(identities(social_fd)) == 1


def test_linking_from_a_signed_in_account_then_unlinking(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    owner = make_user(social_fd, username="bob", email="bob@example.com")
    assert frontdesk.post("/v1/login", json={"user": "bob", "password": PASSWORD}).status_code == 200
    started = frontdesk.post("/v1/identities/corp")
    assert started.status_code == 200, started.text
    # any account at the provider may be linked: its email decides nothing here
    answer = callback(frontdesk, authorize(provider_browser, started.json()["redirect"], "someone-else"))
    assert answer.status_code == 302 and answer.headers["location"] == "/account"
    (identity,) = identities(social_fd)
    assert (identity.user_id, identity.subject) == (owner.id, "someone-else")
    assert [e.to_address for e in outbox(social_fd, "identity_linked")] == ["bob@example.com"]
    listed = frontdesk.get("/v1/identities").json()["identities"]
    assert [i["id"] for i in listed] == [identity.id]

    assert frontdesk.delete(f"/v1/identities/{identity.id}").status_code == 204
    assert identities(social_fd) == []
    assert [e.to_address for e in outbox(social_fd, "identity_unlinked")] == ["bob@example.com"]
    assert frontdesk.delete(f"/v1/identities/{identity.id}").status_code == 404


def test_the_only_way_into_a_passwordless_account_cannot_be_unlinked(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    callback(frontdesk, authorize(provider_browser, start(frontdesk), "hana"))
    (identity,) = identities(social_fd)
    refused = frontdesk.delete(f"/v1/identities/{identity.id}")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "last_sign_in_method"
    assert len(identities(social_fd)) == 1 and outbox(social_fd, "identity_unlinked") == []


def test_a_provider_trusted_for_email_signs_in_to_the_account_with_that_email(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    owner = make_user(social_fd, username="dave", email="dave@example.com")
    answer = callback(frontdesk, authorize(provider_browser, start(frontdesk, "trusted"), "dave"))
    assert answer.status_code == 302
    assert frontdesk.get("/v1/session").json()["user_id"] == owner.id
    (identity,) = identities(social_fd)
    assert (identity.user_id, identity.provider) == (owner.id, "trusted")
    assert len(users(social_fd)) == 1
    assert [e.to_address for e in outbox(social_fd, "identity_linked")] == ["dave@example.com"]


def test_new_usernames_are_made_unique_with_a_suffix(
    frontdesk: httpx.Client, provider_browser: httpx.Client, social_fd: Frontdesk
) -> None:
    make_user(social_fd, username="ivy", email="ivy@elsewhere.example.com")
    callback(frontdesk, authorize(provider_browser, start(frontdesk), "ivy"))
    assert frontdesk.get("/v1/session").json()["username"] == "ivy2"
