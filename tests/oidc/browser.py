"""Social sign-in in a real browser (Debian's Chromium): a live `frontdesk serve` naming the real
provider, and the steps through the provider's own login and consent pages.

The browser follows every redirect itself, so the server must really listen on the address the
provider sends it back to: `start_social_site` picks the port first, starts a provider with that
port's callback URLs registered, then the server on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import select, update

from frontdesk.models import Identity, User, UserSession
from frontdesk.runtime import Frontdesk
from tests.databases import empty_database
from tests.fast import fast_settings
from tests.live import LiveServer, free_port, start_server
from tests.oidc.rig import PROVIDER_NAMES, OidcProvider, start_provider


@dataclass
class SocialSite:
    """A live frontdesk with the providers "corp" (generic) and "trusted" (trusted for email), both
    the real oidc-provider."""

    server: LiveServer
    provider: OidcProvider

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.stop()
        self.provider.stop()

    def identities_of(self, username: str) -> list[tuple[str, str]]:
        """(provider, subject) of each identity linked to `username`, oldest first."""
        fd = Frontdesk(fast_settings(self.server.database_url, public_url=self.url))
        try:
            with fd.factory() as db:
                rows = db.execute(
                    select(Identity.provider, Identity.subject)
                    .join(User, User.id == Identity.user_id)
                    .where(User.username == username)
                    .order_by(Identity.id)
                )
                return [(str(p), str(s)) for p, s in rows]
        finally:
            fd.close()

    def age_sessions(self, username: str) -> None:
        """As if `username` last proved a factor 11 minutes ago (FRONTDESK_REAUTH_MAX_AGE is 10)."""
        fd = Frontdesk(fast_settings(self.server.database_url, public_url=self.url))
        try:
            with fd.factory() as db:
                user_id = db.scalars(select(User.id).where(User.username == username)).one()
                then = datetime.now(UTC) - timedelta(minutes=11)
                db.execute(update(UserSession).where(UserSession.user_id == user_id).values(authenticated_at=then))
                db.commit()
        finally:
            fd.close()


def provider_env(provider: OidcProvider) -> dict[str, str]:
    """FRONTDESK_OIDC_* naming `provider` twice, as in conftest's `providers`."""
    env = {"FRONTDESK_OIDC_PROVIDERS": ",".join(PROVIDER_NAMES), "FRONTDESK_OIDC_TRUSTED_TRUST_EMAIL": "true"}
    for name in PROVIDER_NAMES:
        prefix = f"FRONTDESK_OIDC_{name.upper()}_"
        env.update(
            {
                prefix + "ISSUER": provider.issuer,
                prefix + "CLIENT_ID": provider.client_id,
                prefix + "CLIENT_SECRET": provider.client_secret,
            }
        )
    return env


def start_social_site(database_url: str, folder: Path) -> SocialSite:
    empty_database(database_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    provider = start_provider(folder, [f"{url}/v1/oauth/{name}/callback" for name in PROVIDER_NAMES])
    try:
        server = start_server(database_url, folder, port=port, extra_env=provider_env(provider))
    except BaseException:
        provider.stop()
        raise
    return SocialSite(server, provider)


# --- the provider's own pages (oidc-provider's development interactions) -------------------------

OFF_MACHINE = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")  # its page @imports a web font: never fetched


def local_only(context: BrowserContext) -> BrowserContext:
    """Refuse every request that would leave the machine (the tests never need the network)."""
    context.route(OFF_MACHINE, lambda route: route.abort())
    return context


def on_provider(page: Page, site: SocialSite) -> None:
    expect(page).to_have_url(re.compile(re.escape(f"{site.provider.issuer}/")))


def provider_sign_in(page: Page, site: SocialSite, login: str) -> None:
    """On the provider's sign-in page: any login name with any password; then its consent page,
    and back to frontdesk."""
    on_provider(page, site)
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill("any password")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.locator('button[type="submit"]').click()
    consent(page, site)


def consent(page: Page, site: SocialSite) -> None:
    """Press Continue on the provider's consent page (asked once per provider session and client)."""
    on_provider(page, site)
    expect(page.locator('input[name="prompt"][value="consent"]')).to_be_attached()
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.locator('button[type="submit"]').click()
    expect(page).to_have_url(re.compile(re.escape(f"{site.url}/")))


def cancel_at_provider(page: Page, site: SocialSite, login: str) -> None:
    """Sign in at the provider, then refuse consent (its "Cancel" link): back with access_denied."""
    on_provider(page, site)
    page.locator('input[name="login"]').fill(login)
    page.locator('input[name="password"]').fill("any password")
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.locator('button[type="submit"]').click()
    with page.expect_navigation(wait_until="domcontentloaded"):
        page.get_by_role("link", name=re.compile("Cancel")).click()
    expect(page).to_have_url(re.compile(re.escape(f"{site.url}/v1/oauth/")))
