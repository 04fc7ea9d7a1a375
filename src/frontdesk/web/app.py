"""`create_app(settings)`: the frontdesk server as an ASGI app."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp

from frontdesk.mail import MailWorker, start_worker
from frontdesk.oidc_settings import OidcProviders, load_providers
from frontdesk.runtime import Frontdesk
from frontdesk.service.oidc_client import ProviderClients
from frontdesk.settings import Settings, load_settings
from frontdesk.web import apidocs, errors, openapi, pages
from frontdesk.web.api import account, admin, devmail, factors, lifecycle, oauth, open, ops, proxy, reauth
from frontdesk.web.credentials import RequestInfo
from frontdesk.web.deps import Access, access, access_of
from frontdesk.web.fastverify import VerifyFastPath
from frontdesk.web.middleware import (
    BodyLimitMiddleware,
    CsrfMiddleware,
    MetricsMiddleware,
    NoSniffMiddleware,
    RateLimitedDelayMiddleware,
    SignupGateMiddleware,
)

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    frontdesk: Frontdesk | None = None,
    send_mail: bool = True,
    oidc_providers: OidcProviders | None = None,
) -> FastAPI:
    """Build the app. Without arguments it reads the environment (what `frontdesk serve` does);
    social sign-in providers come from `FRONTDESK_OIDC_*` unless `oidc_providers` is given.

    On startup it starts the touch flusher and the mail sender; on shutdown it stops the sender
    and writes every pending `last_seen`/`api_calls` update before the process exits.
    """
    settings = settings or (frontdesk.settings if frontdesk else load_settings())
    providers = oidc_providers if oidc_providers is not None else load_providers()
    fd = frontdesk or Frontdesk(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        fd.start()
        worker: MailWorker | None = start_worker(settings, fd.factory) if send_mail else None
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's scans, which otherwise stall the event loop now and then (tail latency).
        gc.freeze()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            await fd.close_async()
            fd.close()

    app = FastAPI(
        title="frontdesk",
        version=version("frontdesk"),
        summary="Authentication and sessions for web apps.",
        lifespan=lifespan,
        docs_url=None,  # served by `apidocs` from packaged files, when FRONTDESK_API_DOCS is on
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.frontdesk = fd
    app.state.request_info = RequestInfo(settings)
    app.state.oidc = ProviderClients(providers, fd.deps.clock)
    errors.install(app)
    openapi.install(app)
    for module in (open, factors, reauth, account, lifecycle, oauth, admin, proxy, ops, devmail):
        app.include_router(module.router)
    pages.install(app)  # hosted pages and their stylesheet
    if settings.api_docs_enabled:
        apidocs.install(app)
    _declare_framework_routes(app)
    app.add_middleware(SignupGateMiddleware, frontdesk=fd, request_info=app.state.request_info)
    app.add_middleware(
        CsrfMiddleware,
        public_url=settings.public_url,
        allowed_origins=settings.allowed_origins,
        exempt_posts=oauth.form_post_paths(providers),
    )
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(NoSniffMiddleware)
    app.add_middleware(RateLimitedDelayMiddleware, delay=settings.rate_limited_delay.total_seconds())
    app.add_middleware(MetricsMiddleware)
    return app


def _declare_framework_routes(app: FastAPI) -> None:
    """FastAPI's own routes (the OpenAPI document and its viewer) are operations, like /metrics."""
    for route in app.routes:
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None and access_of(endpoint) is None and not isinstance(route, APIRoute):
            access(Access.OPS)(endpoint)


def create_server_app(settings: Settings | None = None) -> ASGIApp:
    """What `frontdesk serve` runs: the app, with `/v1/verify` answered in front of the framework
    on PostgreSQL (FastAPI's own middleware and routing cost more than the check itself)."""
    app = create_app(settings)
    fd: Frontdesk = app.state.frontdesk
    if fd.verify_lookup is None:
        return app
    return VerifyFastPath(app, frontdesk=fd)
