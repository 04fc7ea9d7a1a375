"""Hosted pages: sign-in, sign-up, links from emails, password reset and the account page.

Server-rendered (Jinja2), one small stylesheet, no JavaScript needed. Pages call the service
layer directly, set the same cookies as the JSON API, and carry per-form CSRF tokens on top of
the Origin check every unsafe request passes.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response

from frontdesk.errors import NotFound
from frontdesk.web.errors import for_error, for_http_error
from frontdesk.web.pages import (
    account,
    assets,
    identities,
    lifecycle,
    password,
    reauthenticate,
    second_step,
    signin,
    signup,
    two_step,
)
from frontdesk.web.pages.page import Page, PageRefused, SignInFirst, Site

NOT_FOUND = "There is no page at this address. Check it for a typing mistake, or start again from your account."


def wants_html(request: Request) -> bool:
    """A browser navigating (it asks for HTML), as opposed to an API client (JSON, or anything)."""
    return "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    """Add the pages to `app` (after `app.state.frontdesk` and `app.state.oidc` are set)."""
    site = app.state.pages = Site(app.state.frontdesk, app.state.oidc.providers)
    modules = (signin, second_step, reauthenticate, signup, password, account, two_step, identities, lifecycle, assets)
    for module in modules:
        app.include_router(module.router)

    async def sign_in_first(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, SignInFirst):
            raise exc
        return exc.response

    async def refused(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, PageRefused):
            raise exc
        return Page(request, site).render("error.html", status=exc.status, title=exc.title, message=exc.message)

    async def not_found(request: Request, exc: Exception) -> Response:
        """A mistyped address: an HTML page for a browser, the contract's JSON for API clients."""
        if wants_html(request):
            return Page(request, site).render("error.html", status=404, title="Page not found", message=NOT_FOUND)
        if isinstance(exc, NotFound):
            return for_error(exc)
        if isinstance(exc, HTTPException):
            return for_http_error(exc)
        raise exc

    app.add_exception_handler(SignInFirst, sign_in_first)
    app.add_exception_handler(PageRefused, refused)
    app.add_exception_handler(404, not_found)
    app.add_exception_handler(NotFound, not_found)
