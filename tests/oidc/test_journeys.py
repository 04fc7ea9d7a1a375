"""Social sign-in journeys through the real provider's login and consent pages (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from frontdesk.models import Identity, User
from frontdesk.runtime import Frontdesk
from tests.factories import PASSWORD, make_user
from tests.mailbox import outbox
from tests.oidc.browser import SocialSite, cancel_at_provider, provider_sign_in
from tests.oidc.journey import authorize, callback, start
from tests.web.helpers import sign_up as api_sign_up
from tests.web.pages.conftest import OpenPage
from tests.web.pages.journeys import expect_on_login, expect_signed_in, sign_in


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


# --- in a real browser (Chromium), through the hosted pages --------------------------------------
# The Link form redirects to the provider: these run under the pages' real CSP (no bypass), which
# Chromium enforces on that redirect (`form-action`).


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").first.click()
    expect_on_login(page)


def continue_with(page: Page, provider: str, path: str = "/login") -> None:
    page.goto(path)
    page.get_by_role("link", name=f"Continue with {provider}").click()


def expect_identity_listed(page: Page, provider: str, email: str) -> None:
    section = page.locator("#identities")
    expect(section.get_by_role("heading", name=provider, exact=True)).to_be_visible()
    expect(section).to_contain_text(email)


def test_continue_with_from_the_login_page_makes_an_account(
    social_site: SocialSite, open_social_page: OpenPage
) -> None:
    page = open_social_page(java_script_enabled=False)  # frontdesk's pages need none (nor do the provider's)
    continue_with(page, "Corp")
    provider_sign_in(page, social_site, "nia")
    expect_signed_in(page, "nia")
    expect_identity_listed(page, "Corp", "nia@example.com")
    assert social_site.identities_of("nia") == [("corp", "nia")]


def test_continue_with_from_the_signup_page_then_again_from_another_browser(
    social_site: SocialSite, open_social_page: OpenPage
) -> None:
    first = open_social_page()
    continue_with(first, "Corp", "/signup")
    provider_sign_in(first, social_site, "omar")
    expect_signed_in(first, "omar")
    sign_out(first)
    # the same browser: the provider still knows the person, and frontdesk the identity
    continue_with(first, "Corp")
    expect_signed_in(first, "omar")
    # another browser (a new sign-in at the provider): the same account, no second one
    second = open_social_page()
    continue_with(second, "Corp")
    provider_sign_in(second, social_site, "omar")
    expect_signed_in(second, "omar")
    assert social_site.identities_of("omar") == [("corp", "omar")]


def test_linking_from_the_account_page_then_signing_in_with_it(
    social_site: SocialSite, open_social_page: OpenPage
) -> None:
    with social_site.server.client() as api:
        api_sign_up(api, "pia")
    page = open_social_page()
    sign_in(page, "pia")
    expect_signed_in(page, "pia")
    expect(page.locator("#identities")).to_contain_text("None linked yet.")
    page.get_by_role("button", name="Link Corp", exact=True).click()
    provider_sign_in(page, social_site, "pia-at-work")  # any account at the provider may be linked
    expect(page).to_have_url(re.compile(r"/account\?notice=identity-linked#identities$"))
    expect(page.get_by_role("status")).to_contain_text("The sign-in method is linked")
    expect_identity_listed(page, "Corp", "pia-at-work@example.com")
    expect(page.get_by_role("button", name="Link Corp", exact=True)).to_have_count(0)
    assert social_site.identities_of("pia") == [("corp", "pia-at-work")]
    # from another browser, Continue with Corp now signs in to pia's account
    other = open_social_page()
    continue_with(other, "Corp")
    provider_sign_in(other, social_site, "pia-at-work")
    expect_signed_in(other, "pia")


def test_a_stale_session_confirms_its_password_before_linking(
    social_site: SocialSite, open_social_page: OpenPage
) -> None:
    with social_site.server.client() as api:
        api_sign_up(api, "pete")
    page = open_social_page()
    sign_in(page, "pete")
    expect_signed_in(page, "pete")
    social_site.age_sessions("pete")
    page.get_by_role("button", name="Link Corp", exact=True).click()
    expect(page).to_have_url(re.compile(r"/reauthenticate\?next=%2Faccount$"))  # not to the provider
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect_signed_in(page, "pete")
    assert social_site.identities_of("pete") == []
    page.get_by_role("button", name="Link Corp", exact=True).click()
    provider_sign_in(page, social_site, "pete")
    expect_identity_listed(page, "Corp", "pete@example.com")


def test_unlinking_from_the_account_page(social_site: SocialSite, open_social_page: OpenPage) -> None:
    with social_site.server.client() as api:
        api_sign_up(api, "quinn")
    page = open_social_page(java_script_enabled=False)  # linking and unlinking need no JavaScript
    sign_in(page, "quinn")
    page.get_by_role("button", name="Link Trusted", exact=True).click()
    provider_sign_in(page, social_site, "quinn")
    expect_identity_listed(page, "Trusted", "quinn@example.com")
    page.get_by_role("button", name="Unlink Trusted").click()
    expect(page.get_by_role("status")).to_contain_text("That sign-in method is unlinked")
    expect(page.locator("#identities")).to_contain_text("None linked yet.")
    expect(page.get_by_role("button", name="Link Trusted", exact=True)).to_be_visible()
    assert social_site.identities_of("quinn") == []


def test_the_only_way_in_cannot_be_unlinked(social_site: SocialSite, open_social_page: OpenPage) -> None:
    page = open_social_page()
    continue_with(page, "Corp")
    provider_sign_in(page, social_site, "rosa")
    expect_signed_in(page, "rosa")
    page.get_by_role("button", name="Unlink Corp").click()
    alert = page.locator("#identities").get_by_role("alert")
    expect(alert).to_contain_text("You can't unlink it: it is the only way to sign in to your account.")
    expect(page.locator("#identities").get_by_role("link", name="Set a password")).to_be_visible()
    expect_identity_listed(page, "Corp", "rosa@example.com")
    assert social_site.identities_of("rosa") == [("corp", "rosa")]


def test_refusing_consent_at_the_provider_shows_a_page_and_changes_nothing(
    social_site: SocialSite, open_social_page: OpenPage
) -> None:
    page = open_social_page()
    continue_with(page, "Corp")
    cancel_at_provider(page, social_site, "sam")
    expect(page.get_by_role("heading", name="Sign-in cancelled", level=1)).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was changed.")
    page.get_by_role("link", name="Start again").click()
    expect_on_login(page)
    assert social_site.identities_of("sam") == []
