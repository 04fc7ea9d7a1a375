"""The OpenAPI document, with the two ways to present a session declared as security schemes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from frontdesk.web.authn import SESSION_COOKIE
from frontdesk.web.deps import Access, access_of

SECURITY_SCHEMES = {
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE, "description": "A browser session."},
    "apiKey": {"type": "http", "scheme": "bearer", "description": "An API key (`fdk_…`); never both at once."},
}
NEEDS_SESSION = {Access.USER, Access.ADMIN, Access.PROXY}


def install(app: FastAPI) -> None:
    """Add securitySchemes and each session-protected operation's `security` to the document
    (wrapping whatever builds it, once per built document)."""
    build = app.openapi
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = build()
        if done and done[0] is schema:
            return schema
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        for route in iter_route_contexts(app.routes):
            if isinstance(route.original_route, APIRoute) and access_of(route.endpoint) in NEEDS_SESSION:
                for method in route.methods or ():
                    operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                    if operation is not None:
                        operation["security"] = [{"sessionCookie": []}, {"apiKey": []}]
        done[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
