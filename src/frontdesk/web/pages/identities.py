"""/account → "Linked sign-in methods" (contract section 8): link a sign-in provider to the account,
or unlink one (its markup is `templates/_identities.html`). Both need a fresh session
(`FreshSignedIn` sends a stale one to /reauthenticate first).

Linking is a form POST answered with a redirect (303) to the provider, which sends the browser back
to the callback and from there to `/account`. Chromium checks the account page's CSP `form-action`
on that redirect, so the page names the providers' origins there (`identities_view.py`).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from frontdesk.errors import LastSignInMethod, NotFound, ReauthenticationRequired, SocialSignInFailed
from frontdesk.service import identities
from frontdesk.web.api import oauth as oauth_api
from frontdesk.web.deps import Access, access
from frontdesk.web.ids import checked_id
from frontdesk.web.pages.account import _show
from frontdesk.web.pages.forms import Form, Posted
from frontdesk.web.pages.identities_view import LINKED, provider_clients
from frontdesk.web.pages.page import FreshSignedIn, P

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

LAST_WAY_IN = (
    "You can't unlink it: it is the only way to sign in to your account. Link another provider first, "
    "or set a password."
)
NO_SUCH_PROVIDER = "There is no sign-in provider of that name here."


def _identity_id(identity_id: Annotated[int, Path(description="A linked identity's id.")]) -> int:
    return checked_id(identity_id, "identity")


IdentityId = Annotated[int, Depends(_identity_id)]


@router.post("/account/identities/{provider}/link")
@access(Access.USER)
def link_provider(p: P, caller: FreshSignedIn, provider: str, posted: Posted) -> Response:
    """Start linking `provider`: off to its sign-in page, back on /account with it linked."""
    if not p.csrf_ok(posted):
        return _show(p, caller, status=403, identities_banner=Form().expired())
    client = provider_clients(p.request).get(provider)
    if client is None:
        return _show(p, caller, status=404, identities_banner=Form().fail(NO_SUCH_PROVIDER, 404))
    response = p.redirect(LINKED)  # to the provider: its Location is set once the flow has started
    try:
        # the API's own start (`POST /v1/identities/{provider}`): the flow, and its binding cookie on `response`
        started = oauth_api.start_linking(client.settings.name, p.request, caller, p.fd, response, next=LINKED)
    except ReauthenticationRequired:
        return p.to_reauthenticate()
    except SocialSignInFailed as exc:  # the provider is not answering (discovery): nothing was started
        log.warning("oauth.link_not_started", extra={"provider": provider, "reason": exc.reason})
        return _show(p, caller, status=502, identities_banner=Form().fail(str(exc), 502))
    response.headers["location"] = started.redirect
    return response


@router.post("/account/identities/{identity_id:int}/unlink")
@access(Access.USER)
def unlink_identity(p: P, caller: FreshSignedIn, identity_id: IdentityId, posted: Posted) -> Response:
    """Unlink one of your identities, unless it is the last way to sign in (nothing changes then)."""
    if not p.csrf_ok(posted):
        return _show(p, caller, status=403, identities_banner=Form().expired())
    try:
        p.fd.call(identities.unlink_identity, caller, identity_id, provider_clients(p.request).providers, p.ctx)
    except ReauthenticationRequired:
        return p.to_reauthenticate()
    except NotFound:
        return p.redirect("/account?notice=identity-gone#identities")
    except LastSignInMethod:
        banner = Form().fail(LAST_WAY_IN, 400)
        return _show(p, caller, status=400, identities_banner=banner, last_way_in=True)
    return p.redirect("/account?notice=identity-unlinked#identities")
