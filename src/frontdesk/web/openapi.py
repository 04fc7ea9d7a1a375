"""The OpenAPI document, finished in one place: true error answers and the two ways to present a
session declared as security schemes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from frontdesk.web.authn import SESSION_COOKIE
from frontdesk.web.deps import Access, access_of
from frontdesk.web.errors import document_errors

SECURITY_SCHEMES = {
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE, "description": "A browser session."},
    "apiKey": {"type": "http", "scheme": "bearer", "description": "An API key (`fdk_…`); never both at once."},
}
NEEDS_SESSION = {Access.USER, Access.ADMIN, Access.PROXY}


def install(app: FastAPI) -> None:
    """Finish the OpenAPI document once, when FastAPI first builds it (FastAPI keeps it in
    `app.openapi_schema`): the error answers (`errors.document_errors`), the security schemes and
    each session-protected operation's `security`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = build()
        if first:
            document_errors(schema)
            _declare_security(app, schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_security(app: FastAPI, schema: dict[str, Any]) -> None:
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and access_of(route.endpoint) in NEEDS_SESSION:
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = [{"sessionCookie": []}, {"apiKey": []}]
