"""Social sign-in journeys through the real provider's login and consent pages (SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from frontdesk.models import Identity, User
from frontdesk.runtime import Frontdesk
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
