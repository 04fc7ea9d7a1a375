"""Hosted pages: sign-in, sign-up, links from emails, password reset and the account page.

Server-rendered (Jinja2), one small stylesheet, no JavaScript needed. Pages call the service
layer directly, set the same cookies as the JSON API, and carry per-form CSRF tokens on top of
the Origin check every unsafe request passes.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from frontdesk.web.pages import account, assets, password, signin, signup
from frontdesk.web.pages.page import Page, PageRefused, SignInFirst, Site


def install(app: FastAPI) -> None:
    """Add the pages to `app` (after `app.state.frontdesk` is set)."""
    site = app.state.pages = Site(app.state.frontdesk)
    for module in (signin, signup, password, account, assets):
        app.include_router(module.router)

    async def sign_in_first(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, SignInFirst):
            raise exc
        return exc.response

    async def refused(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, PageRefused):
            raise exc
        return Page(request, site).render("error.html", status=exc.status, title=exc.title, message=exc.message)

    app.add_exception_handler(SignInFirst, sign_in_first)
    app.add_exception_handler(PageRefused, refused)
