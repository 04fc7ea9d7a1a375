"""Hosted pages: sign-in, sign-up, links from emails, password reset and the account page.

Server-rendered (Jinja2), one small stylesheet, no JavaScript needed. Pages call the service
layer directly, set the same cookies as the JSON API, and carry per-form CSRF tokens on top of
the Origin check every unsafe request passes.
"""

from __future__ import annotations

from fastapi import FastAPI

from frontdesk.web.pages import account, assets, password, signin, signup
from frontdesk.web.pages.page import Site


def install(app: FastAPI) -> None:
    """Add the pages to `app` (after `app.state.frontdesk` is set)."""
    app.state.pages = Site(app.state.frontdesk)
    for module in (signin, signup, password, account, assets):
        app.include_router(module.router)
