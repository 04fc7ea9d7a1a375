"""One request to a hosted page: who is signed in, the CSRF cookie, rendering and redirects.

A page route declares its access with `@access(...)` and enforces it with its parameters: one that
takes `SignedIn` is for signed-in users only, and anyone else is sent to `/login?next=<here>`; one
that takes `FreshSignedIn` also needs a fresh session, else it sends to `/reauthenticate?next=`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cached_property
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse, RedirectResponse, Response

from frontdesk.errors import ReauthenticationRequired, SecondFactorEnrolmentRequired
from frontdesk.mail import human_duration
from frontdesk.oidc_settings import OidcProviders
from frontdesk.runtime import Frontdesk
from frontdesk.service import freshness
from frontdesk.service.context import Principal, RequestContext
from frontdesk.settings import API_KEY_MAX_DAYS, API_KEY_MIN_DAYS, Settings
from frontdesk.theme import Theme
from frontdesk.web.authn import Refused, has_session_cookie, identify
from frontdesk.web.cookies import clear_login_cookies
from frontdesk.web.credentials import RequestInfo
from frontdesk.web.deps import ensure_enrolled
from frontdesk.web.errors import AmbiguousCredentials, status_for
from frontdesk.web.pages.csrf import CSRF_FIELD, CsrfTokens
from frontdesk.web.pages.forms import Form
from frontdesk.web.pages.nextpath import trusted_origins

STYLESHEET = "frontdesk.css"
WEBAUTHN_SCRIPT = "webauthn.js"  # the one script, on the pages that use security keys and passkeys


def _asset_version(name: str) -> str:
    data = resources.files("frontdesk.web").joinpath("static", name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]


def _when(value: datetime) -> str:
    value = value.astimezone(UTC)
    return f"{value.day} {value:%b %Y, %H:%M} UTC"


def _ago(value: datetime, now: datetime) -> str:
    seconds = int((now - value).total_seconds())
    if seconds < 90:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size * (2 if unit != "minute" else 1):
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


class Site:
    """What every page of one app shares: settings, theme, templates, CSRF key, headers."""

    def __init__(self, fd: Frontdesk, providers: OidcProviders | None = None) -> None:
        self.fd = fd
        self.settings: Settings = fd.settings
        # social sign-in: the "Continue with ..." links on /login and /signup, in the configured order
        self.sign_in_providers = tuple(providers or ())
        self.theme = Theme.from_settings(self.settings)
        self.csrf = CsrfTokens(self.settings)
        self.env = Environment(
            loader=PackageLoader("frontdesk.web", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["when"] = _when
        self.env.filters["duration"] = human_duration
        self.env.globals.update(api_key_min_days=API_KEY_MIN_DAYS, api_key_max_days=API_KEY_MAX_DAYS)
        self.env.filters["iso"] = lambda v: v.astimezone(UTC).isoformat().replace("+00:00", "Z")
        theme_css = self.theme.css().encode()
        self.theme_version = hashlib.sha256(theme_css).hexdigest()[:12]
        self.css_version = _asset_version(STYLESHEET)
        self.script_version = _asset_version(WEBAUTHN_SCRIPT)
        self.form_targets = frozenset(trusted_origins(self.settings))
        self.headers = {
            "Cache-Control": "no-store",
            "Content-Security-Policy": self.content_security_policy(),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }
        self.script_headers = {**self.headers, "Content-Security-Policy": self.content_security_policy(script=True)}

    def content_security_policy(self, *, script: bool = False, form_targets: Iterable[str] = ()) -> str:
        """The pages' CSP. `script`: the WebAuthn script runs from /static and asks the JSON API for
        options. `form_targets`: more origins a form may be sent to, redirects included (Chromium
        checks `form-action` on every redirect a form's answer makes, e.g. to a sign-in provider)."""
        targets = " ".join(sorted(self.form_targets | set(form_targets)))
        scripts = "script-src 'self'; connect-src 'self'; " if script else ""
        return (
            f"default-src 'none'; {scripts}style-src 'self'; img-src 'self' data:; "
            f"form-action 'self' {targets}; frame-ancestors 'none'; base-uri 'none'"
        )


def get_site(request: Request) -> Site:
    site: Site = request.app.state.pages
    return site


class Page:
    """Helpers for one page request. Routes take it as a dependency (`P`)."""

    def __init__(self, request: Request, site: Site) -> None:
        self.request = request
        self.site = site
        self.fd = site.fd
        self.settings = site.settings
        self._csrf_secret, self._csrf_new = site.csrf.browser_secret(request)

    @cached_property
    def ctx(self) -> RequestContext:
        info: RequestInfo = self.request.app.state.request_info
        return info.context(self.request)

    @cached_property
    def caller(self) -> Principal | None:
        """The signed-in user of this browser (the cookie only: pages never take bearer tokens).

        Two different session cookies are refused with an explanation page (`PageRefused`).
        """
        caller = identify(self.fd, self.request.scope["headers"], bearer=False)
        if isinstance(caller, Refused):
            error = AmbiguousCredentials(caller.message)
            raise PageRefused(status_for(error), "We can't tell who you are", str(error))
        return caller

    # --- CSRF -------------------------------------------------------------------------------

    def csrf_token(self, action: str) -> str:
        return self.site.csrf.token(self._csrf_secret, action)

    def csrf_ok(self, form: dict[str, str]) -> bool:
        """Whether the posted form carries this browser's token for the path it was posted to."""
        if self._csrf_new:
            return False
        return self.site.csrf.check(self._csrf_secret, self.request.url.path, form.get(CSRF_FIELD, ""))

    # --- responses --------------------------------------------------------------------------

    def render(
        self,
        template: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        *,
        webauthn: bool = False,
        form_targets: Iterable[str] = (),
        **context: Any,
    ) -> Response:
        """Render `template` with the site's branding, the caller and a `csrf(action)` helper;
        `webauthn` loads the WebAuthn script (and lets its CSP allow it); `form_targets` are more
        origins the page's forms may end up at (a sign-in provider that a form redirects to)."""
        body = self.site.env.get_template(template).render(
            product=self.settings.product_name,
            settings=self.settings,
            css_version=self.site.css_version,
            theme_version=self.site.theme_version,
            csrf=self.csrf_token,
            csrf_field=CSRF_FIELD,
            caller=context.pop("caller", None),
            path=self.request.url.path,
            now=self.fd.deps.clock.now(),
            ago=_ago,
            sign_in_providers=self.site.sign_in_providers,
            webauthn_script=f"/static/{WEBAUTHN_SCRIPT}?v={self.site.script_version}" if webauthn else None,
            **context,
        )
        base = self.site.script_headers if webauthn else self.site.headers
        if form_targets:
            csp = self.site.content_security_policy(script=webauthn, form_targets=form_targets)
            base = {**base, "Content-Security-Policy": csp}
        response = HTMLResponse(body, status_code=status, headers={**base, **(headers or {})})
        return self._finish(response)

    def show(self, template: str, form: Form, *, webauthn: bool = False, **context: Any) -> Response:
        """Render a page around `form`, with the form's status (400, 429, ...) and headers."""
        return self.render(template, status=form.status, headers=form.headers, webauthn=webauthn, form=form, **context)

    def redirect(self, url: str) -> Response:
        """303 See Other: after a POST the browser follows with a GET."""
        return self._finish(RedirectResponse(url, status_code=303, headers=self.site.headers))

    def to_login(self, here: str | None = None) -> Response:
        """Send someone who is not signed in to /login, coming back here (or to `here`) afterwards.

        A browser whose session cookie no longer works (signed out elsewhere, revoked, expired) is
        told so on the sign-in page (`reason=signed_out`), and the dead cookies are cleared.
        """
        if here is None:
            here = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
        query = {"next": here}
        ended = has_session_cookie(self.request.scope["headers"])
        if ended:
            query["reason"] = SIGNED_OUT
        response = self.redirect("/login?" + urlencode(query))
        if ended:
            clear_login_cookies(response, self.settings)
        return response

    def to_reauthenticate(self) -> Response:
        """Send a signed-in user whose session is not fresh to `/reauthenticate?next=<back>`:
        `back` is this page for a GET, else `/account` (a form's POST can't be repeated by a GET)."""
        if self.request.method in ("GET", "HEAD"):
            back = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
        else:
            back = "/account"
        return self.redirect("/reauthenticate?" + urlencode({"next": back}))

    def _finish(self, response: Response) -> Response:
        if self._csrf_new:
            self.site.csrf.set_cookie(response, self._csrf_secret)
        return response


def get_page(request: Request, site: Annotated[Site, Depends(get_site)]) -> Page:
    return Page(request, site)


P = Annotated[Page, Depends(get_page)]

SIGNED_OUT = "signed_out"  # `/login?reason=`: the browser's session had ended


class PageRefused(Exception):
    """A page request refused with an HTML explanation (installed by `pages.install`)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class SignInFirst(Exception):
    """Raised by `require_signed_in` (and `require_fresh_signed_in`); answered with the page's
    redirect to /login (or /reauthenticate)."""

    def __init__(self, response: Response) -> None:
        super().__init__("sign in first")
        self.response = response


def require_signed_in(p: P) -> Principal:
    """The signed-in user; anyone else is sent to `/login?next=<this page>`. A user who must enrol
    a second factor first (FRONTDESK_REQUIRE_SECOND_FACTOR) gets a 403 page pointing to /account,
    except on pages marked `open_while_enrolling`."""
    caller = p.caller
    if caller is None:
        raise SignInFirst(p.to_login())
    try:
        ensure_enrolled(p.fd, caller, p.request.scope.get("endpoint"))
    except SecondFactorEnrolmentRequired as exc:
        raise PageRefused(status_for(exc), "Set up two-step verification first", f"{exc} Go to /account.") from None
    return caller


SignedIn = Annotated[Principal, Depends(require_signed_in)]


def require_fresh_signed_in(p: P, caller: SignedIn) -> Principal:
    """The signed-in user, if their session is fresh (`service/freshness.py`); a stale one is sent
    to `/reauthenticate?next=<back>` (see `Page.to_reauthenticate`)."""
    try:
        return freshness.ensure_fresh(p.fd.deps, caller)
    except ReauthenticationRequired:
        raise SignInFirst(p.to_reauthenticate()) from None


FreshSignedIn = Annotated[Principal, Depends(require_fresh_signed_in)]
"""For the sensitive forms: a signed-in user with a fresh session, else a redirect to re-authenticate."""
