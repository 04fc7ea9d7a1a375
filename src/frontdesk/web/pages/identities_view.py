"""What the account page's "Linked sign-in methods" section shows, and its notices (kept apart from
the routes in `identities.py`, which render the account page)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request

from frontdesk.origins import origin_of
from frontdesk.service import identities
from frontdesk.service.context import Principal
from frontdesk.service.oidc_client import ProviderClient, ProviderClients
from frontdesk.web.pages.page import Page

IDENTITY_NOTICES = {
    "identity-linked": "The sign-in method is linked: you can now use it to sign in.",
    "identity-unlinked": "That sign-in method is unlinked: it no longer signs you in.",
    "identity-gone": "That sign-in method had already been unlinked.",
}
LINKED = "/account?notice=identity-linked#identities"  # where a linking flow ends
# An origin as a CSP source: scheme, host and port only (nothing that could end the directive)
_ORIGIN = re.compile(r"https?://[a-z0-9.\-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class LinkedIdentity:
    id: int
    provider: str
    label: str  # the provider's button text, or its name if it is no longer configured
    email: str | None
    created: datetime
    last_used: datetime


@dataclass(frozen=True, slots=True)
class Linkable:
    name: str
    label: str


def provider_clients(request: Request) -> ProviderClients:
    clients: ProviderClients = request.app.state.oidc
    return clients


def authorization_origins(client: ProviderClient) -> set[str]:
    """Where a form that starts this provider's flow may be redirected to: the issuer's origin and,
    once discovered, the authorization endpoint's (asked of nothing: the page never waits on a provider)."""
    urls = [client.settings.issuer]
    metadata = client.known_metadata()
    if metadata is not None and isinstance(metadata.get("authorization_endpoint"), str):
        urls.append(metadata["authorization_endpoint"])
    origins = (origin_of(url) for url in urls)
    return {o for o in origins if o and _ORIGIN.fullmatch(o)}


def identities_section(p: Page, caller: Principal) -> dict[str, Any]:
    """The section's state when none of its forms was just sent; `identity_form_targets` are the
    origins its Link forms redirect to (the account page's CSP `form-action` needs them)."""
    clients = provider_clients(p.request)
    labels = {provider.name: provider.label for provider in clients.providers}
    linked = [
        LinkedIdentity(v.id, v.provider, labels.get(v.provider, v.provider), v.email, v.created, v.last_used)
        for v in p.fd.read(identities.list_identities, caller.user_id)
    ]
    taken = {identity.provider for identity in linked}
    linkable = [Linkable(s.name, s.label) for s in clients.providers if s.name not in taken]
    targets: set[str] = set()
    for provider in linkable:
        client = clients.get(provider.name)
        if client is not None:
            targets |= authorization_origins(client)
    return {
        "identities": linked,
        "linkable": linkable,
        "identities_banner": None,  # an error about the section (a refused unlink, a provider down)
        "last_way_in": False,  # the unlink just refused was the account's only way in
        "identity_form_targets": sorted(targets),
    }
