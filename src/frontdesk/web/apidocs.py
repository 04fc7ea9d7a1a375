"""The API reference: Swagger UI at `/docs` and Redoc at `/redoc`, from files on this server.

The JavaScript and CSS come from the `fastapi-offline` package (pinned in pyproject.toml), which
ships Swagger UI and Redoc's standalone builds; nothing is loaded from another site, so the pages
work offline and run under a CSP that allows only this origin's scripts. On when
`FRONTDESK_API_DOCS` says so (default: on in development, off in production); `/openapi.json`
is always served.
"""

from __future__ import annotations

from html import escape
from importlib import resources
from importlib.metadata import version

from fastapi import APIRouter, FastAPI
from starlette.responses import HTMLResponse, Response

from frontdesk.web.deps import Access, access
from frontdesk.web.errors import ErrorCode, error_response

ASSETS = "/docs/assets"
VENDOR = "fastapi_offline"
# name -> (package holding it, media type)
FILES = {
    "swagger-ui-bundle.js": (VENDOR, "text/javascript; charset=utf-8"),
    "swagger-ui.css": (VENDOR, "text/css; charset=utf-8"),
    "redoc.standalone.js": (VENDOR, "text/javascript; charset=utf-8"),
    "favicon.png": (VENDOR, "image/png"),
    "swagger-init.js": ("frontdesk.web", "text/javascript; charset=utf-8"),
}
# Swagger UI and Redoc set inline styles and Redoc searches in a blob: worker; scripts are ours only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
ASSET_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}


def install(app: FastAPI, openapi_url: str = "/openapi.json") -> None:
    """Serve `/docs`, `/redoc` and their assets on `app`."""
    # asset URLs carry the versions, so an upgrade is fetched at once despite the long cache
    stamp = f"{version('fastapi-offline')}-{version('frontdesk')}"
    router = APIRouter(include_in_schema=False)

    def asset(name: str) -> str:
        return f"{ASSETS}/{name}?v={stamp}"

    def page(title: str, head: str, body: str) -> HTMLResponse:
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><link rel="icon" href="{asset("favicon.png")}">{head}</head>'
            f"<body>{body}</body></html>"
        )
        return HTMLResponse(html, headers=PAGE_HEADERS)

    @router.get("/docs")
    @access(Access.OPS)
    def swagger_ui() -> HTMLResponse:
        return page(
            f"{app.title} API",
            f'<link rel="stylesheet" href="{asset("swagger-ui.css")}">',
            f'<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>'
            f'<script src="{asset("swagger-ui-bundle.js")}"></script>'
            f'<script src="{asset("swagger-init.js")}"></script>',
        )

    @router.get("/redoc")
    @access(Access.OPS)
    def redoc() -> HTMLResponse:
        return page(
            f"{app.title} API",
            "",
            f'<redoc spec-url="{escape(openapi_url)}"></redoc><script src="{asset("redoc.standalone.js")}"></script>',
        )

    @router.get(ASSETS + "/{name}")
    @access(Access.OPS)
    def docs_asset(name: str) -> Response:
        if name not in FILES:
            return error_response(404, ErrorCode.NOT_FOUND, "No such file.")
        package, media_type = FILES[name]
        body = resources.files(package).joinpath("static", name).read_bytes()
        return Response(body, media_type=media_type, headers=ASSET_HEADERS)

    app.include_router(router)
