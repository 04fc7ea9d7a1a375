"""The stylesheet, the deployer's colours as CSS, and `/` (which leads to the account page)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from frontdesk.web.deps import Access, access
from frontdesk.web.pages.page import STYLESHEET, WEBAUTHN_SCRIPT, P

router = APIRouter(include_in_schema=False)
# URLs carry a content hash (`?v=`), so a new release or new colours are fetched at once
CACHED = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
CSS = "text/css; charset=utf-8"
JS = "text/javascript; charset=utf-8"


@router.get("/static/frontdesk.css")
@access(Access.OPEN)
def stylesheet() -> Response:
    body = resources.files("frontdesk.web").joinpath("static", STYLESHEET).read_bytes()
    return Response(body, media_type=CSS, headers=CACHED)


@router.get("/static/webauthn.js")
@access(Access.OPEN)
def webauthn_script() -> Response:
    body = resources.files("frontdesk.web").joinpath("static", WEBAUTHN_SCRIPT).read_bytes()
    return Response(body, media_type=JS, headers=CACHED)


@router.get("/static/theme.css")
@access(Access.OPEN)
def theme(p: P) -> Response:
    return Response(p.site.theme.css(), media_type=CSS, headers=CACHED)


@router.get("/")
@access(Access.OPEN)
def home() -> Response:
    return RedirectResponse("/account", status_code=303)
