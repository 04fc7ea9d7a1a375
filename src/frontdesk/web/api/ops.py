"""Operations: health and metrics."""

from __future__ import annotations

import hashlib
import hmac
import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from frontdesk.settings import Settings
from frontdesk.web.deps import FD, Access, access
from frontdesk.web.errors import ErrorBody, ErrorCode, error_response, responses, unavailable_response
from frontdesk.web.loopback import is_local_client
from frontdesk.web.schemas import HealthResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthResponse, responses={503: {"model": ErrorBody}})
@access(Access.OPS)
def healthz(fd: FD) -> JSONResponse:
    """200 when the database answers, else 503."""
    if fd.database_ok():
        return JSONResponse({"status": "ok"})
    return unavailable_response("The database does not answer.")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}},
        **responses(ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN),
    },
)
@access(Access.OPS)
def metrics(fd: FD, request: Request) -> Response:
    """Prometheus metrics (all worker processes together when served with several workers).

    With `FRONTDESK_METRICS_TOKEN` set it needs `Authorization: Bearer <token>` (else 401). Without
    it: open in development; in production only a scraper on this machine, not through a proxy,
    gets them (else 403).
    """
    refusal = _refusal(fd.settings, request)
    if refusal is not None:
        return refusal
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)


def _refusal(settings: Settings, request: Request) -> Response | None:
    if settings.metrics_token is not None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        expected = hashlib.sha256(settings.metrics_token.get_secret_value().encode()).digest()
        given = hashlib.sha256(presented.strip().encode()).digest()  # same length: a constant-time compare
        if scheme.lower() == "bearer" and hmac.compare_digest(given, expected):
            return None
        return error_response(
            401,
            ErrorCode.UNAUTHENTICATED,
            "Send Authorization: Bearer <FRONTDESK_METRICS_TOKEN>.",
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if settings.is_production and not is_local_client(request):
        return error_response(
            403,
            ErrorCode.FORBIDDEN,
            "In production /metrics answers only this machine: set FRONTDESK_METRICS_TOKEN to scrape it from "
            "elsewhere.",
        )
    return None
