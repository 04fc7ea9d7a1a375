"""Counting sign-in outcomes for /metrics, shared by the JSON API and the hosted pages."""

from __future__ import annotations

from collections.abc import Callable

from frontdesk.errors import FrontdeskError
from frontdesk.metrics import LOGINS
from frontdesk.service.results import AuthResult
from frontdesk.web.errors import code_for


def counted(method: str, sign_in: Callable[[], AuthResult]) -> AuthResult:
    """Run a sign-in and count its outcome (`success` or the error code) under `method`."""
    try:
        result = sign_in()
    except FrontdeskError as exc:
        LOGINS.labels(method, code_for(exc).value).inc()
        raise
    LOGINS.labels(method, "success").inc()
    return result
