"""Operations: health and metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from frontdesk.web.deps import FD, Access, access
from frontdesk.web.errors import ErrorBody, unavailable_response
from frontdesk.web.schemas import HealthResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthResponse, responses={503: {"model": ErrorBody}})
@access(Access.OPS)
def healthz(fd: FD) -> JSONResponse:
    """200 when the database answers, else 503."""
    if fd.database_ok():
        return JSONResponse({"status": "ok"})
    return unavailable_response("The database does not answer.")


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
@access(Access.OPS)
def metrics() -> Response:
    """Prometheus metrics (all worker processes together when served with several workers)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)
