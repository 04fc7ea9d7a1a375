"""The one place that turns frontdesk errors into HTTP statuses and stable machine codes."""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC
from enum import StrEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from frontdesk import errors as e
from frontdesk.availability import DATABASE_OUTAGE
from frontdesk.service.identity import USERNAME_HELP

log = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_EMAIL = "invalid_email"
    INVALID_USERNAME = "invalid_username"
    PASSWORD_TOO_SHORT = "password_too_short"
    PASSWORD_TOO_LONG = "password_too_long"
    INSECURE_PASSWORD = "insecure_password"
    USERNAME_TAKEN = "username_taken"
    EMAIL_TAKEN = "email_taken"
    INVALID_CREDENTIALS = "invalid_credentials"
    ACCOUNT_SUSPENDED = "account_suspended"
    RATE_LIMITED = "rate_limited"
    INVALID_TOKEN = "invalid_token"
    UNAUTHENTICATED = "unauthenticated"
    AMBIGUOUS_CREDENTIALS = "ambiguous_credentials"
    FORBIDDEN = "forbidden"
    CSRF_FAILED = "csrf_failed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CANNOT_DELETE_CURRENT_SESSION = "cannot_delete_current_session"
    MUST_CONFIRM = "must_confirm"
    INVALID_CODE = "invalid_code"
    REAUTHENTICATION_REQUIRED = "reauthentication_required"
    INSUFFICIENT_USER_AUTHENTICATION = "insufficient_user_authentication"  # RFC 9470 step-up
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    MFA_REQUIRED = "mfa_required"  # not an error: the 202 of a first step (see `mfa_required`)
    LAST_SIGN_IN_METHOD = "last_sign_in_method"
    SOCIAL_SIGN_IN_FAILED = "social_sign_in_failed"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"


# Errors that mean "the database is not answering" on the sync (SQLAlchemy) side: 503.
DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)
UNAVAILABLE_MESSAGE = "The service is briefly unavailable."
UNAVAILABLE_RETRY_AFTER = 5  # seconds, in every 503's Retry-After


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str


class ErrorBody(BaseModel):
    """Every error response: `{"error": {"code": ..., "message": ...}}`."""

    error: ErrorDetail


class Unauthenticated(e.FrontdeskError):
    def __init__(self) -> None:
        super().__init__("Sign in first.")


class AmbiguousCredentials(e.FrontdeskError):
    """The request's credentials can't be read as one; the message says which case it is."""


# Most specific first: the first class the error is an instance of decides.
ERRORS: list[tuple[type[e.FrontdeskError], int, ErrorCode]] = [
    (e.InvalidEmail, 400, ErrorCode.INVALID_EMAIL),
    (e.InvalidUsername, 400, ErrorCode.INVALID_USERNAME),
    (e.PasswordTooShort, 400, ErrorCode.PASSWORD_TOO_SHORT),
    (e.PasswordTooLong, 400, ErrorCode.PASSWORD_TOO_LONG),
    (e.InsecurePassword, 400, ErrorCode.INSECURE_PASSWORD),
    (e.InvalidInput, 400, ErrorCode.INVALID_REQUEST),
    (e.TokenInvalid, 400, ErrorCode.INVALID_TOKEN),
    (e.CannotDeleteCurrentSession, 400, ErrorCode.CANNOT_DELETE_CURRENT_SESSION),
    (e.MustConfirm, 400, ErrorCode.MUST_CONFIRM),
    (e.LastSignInMethod, 400, ErrorCode.LAST_SIGN_IN_METHOD),
    (e.ProviderUnavailable, 502, ErrorCode.PROVIDER_UNAVAILABLE),
    (e.SocialSignInFailed, 400, ErrorCode.SOCIAL_SIGN_IN_FAILED),
    (e.InvalidCredentials, 401, ErrorCode.INVALID_CREDENTIALS),
    (e.InvalidCode, 401, ErrorCode.INVALID_CODE),
    (Unauthenticated, 401, ErrorCode.UNAUTHENTICATED),
    (AmbiguousCredentials, 401, ErrorCode.AMBIGUOUS_CREDENTIALS),
    (e.InsufficientAuthentication, 401, ErrorCode.INSUFFICIENT_USER_AUTHENTICATION),
    (e.AccountSuspended, 403, ErrorCode.ACCOUNT_SUSPENDED),
    (e.ReauthenticationRequired, 403, ErrorCode.REAUTHENTICATION_REQUIRED),
    (e.SecondFactorEnrolmentRequired, 403, ErrorCode.SECOND_FACTOR_REQUIRED),
    (e.Forbidden, 403, ErrorCode.FORBIDDEN),
    (e.NotFound, 404, ErrorCode.NOT_FOUND),
    (e.UsernameTaken, 409, ErrorCode.USERNAME_TAKEN),
    (e.EmailTaken, 409, ErrorCode.EMAIL_TAKEN),
    (e.RateLimited, 429, ErrorCode.RATE_LIMITED),
    (e.Overloaded, 503, ErrorCode.SERVICE_UNAVAILABLE),
    (e.SecondFactorRequired, 202, ErrorCode.MFA_REQUIRED),
]

# Answered by the middleware in front of the routes, for any unsafe request.
MIDDLEWARE_ERRORS: dict[ErrorCode, int] = {ErrorCode.CSRF_FAILED: 403, ErrorCode.PAYLOAD_TOO_LARGE: 413}
UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})

STATUS_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_REQUEST,
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.INVALID_REQUEST,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}


def error_response(status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code.value, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _entry(exc: e.FrontdeskError) -> tuple[int, ErrorCode] | None:
    return next(((status, code) for kind, status, code in ERRORS if isinstance(exc, kind)), None)


def code_for(exc: e.FrontdeskError) -> ErrorCode:
    entry = _entry(exc)
    return ErrorCode.INTERNAL_ERROR if entry is None else entry[1]


def status_for(exc: e.FrontdeskError) -> int:
    """The HTTP status of an error, for the API and the pages alike (500 for an unmapped one)."""
    entry = _entry(exc)
    return 500 if entry is None else entry[0]


def headers_for(exc: e.FrontdeskError) -> dict[str, str]:
    """The headers an error's answer carries: `Retry-After` (whole seconds, at least 1) when it has
    one, the RFC 9470 `WWW-Authenticate` challenge for a step-up."""
    if isinstance(exc, (e.RateLimited, e.Overloaded)):
        return {"Retry-After": retry_after_seconds(exc.retry_after.total_seconds())}
    if isinstance(exc, e.InsufficientAuthentication):
        return {"WWW-Authenticate": step_up_challenge(exc.aal, exc.max_age)}
    return {}


def step_up_challenge(aal: int | None, max_age: int | None) -> str:
    """The RFC 9470 `WWW-Authenticate` challenge naming what a step-up demands."""
    parts = ['Bearer error="insufficient_user_authentication"']
    if aal is not None:
        parts.append(f'acr_values="aal{aal}"')
    if max_age is not None:
        parts.append(f"max_age={max_age}")
    return ", ".join(parts)


def retry_after_seconds(seconds: float) -> str:
    """A `Retry-After` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def unavailable_response(message: str = UNAVAILABLE_MESSAGE) -> JSONResponse:
    """503 `service_unavailable` with `Retry-After`: the database does not answer."""
    return error_response(503, ErrorCode.SERVICE_UNAVAILABLE, message, {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)})


def for_error(exc: e.FrontdeskError) -> JSONResponse:
    entry = _entry(exc)
    if entry is None:
        log.error("error.unmapped", extra={"type": type(exc).__name__})
        return error_response(500, ErrorCode.INTERNAL_ERROR, "Something went wrong on our side.")
    status, code = entry
    return error_response(status, code, str(exc), headers_for(exc) or None)


def allowed_methods(request: Request) -> str:
    """Every method `/openapi.json` documents for the request's path. Starlette's own 405 names
    only the first route's methods, so a path with a POST and a DELETE route would list one.
    A literal path (`/v1/sessions/revoke-others`) wins over a template that also fits it."""
    path = request.url.path
    found: dict[int, set[str]] = {}  # by the number of path parameters of the template
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods = found.setdefault(template.count("{"), set())
            methods |= {m.upper() for m in operations if m.upper() in _HTTP_METHODS}
    return ", ".join(sorted(found[min(found)])) if found else ""


_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def mfa_required(outcome: e.SecondFactorRequired) -> JSONResponse:
    """202 `{"status":"mfa_required","challenge","methods","expiry"}`: no session, no cookie."""
    body = {
        "status": "mfa_required",
        "challenge": outcome.challenge,
        "methods": outcome.methods,
        "expiry": outcome.expiry.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    return JSONResponse(body, status_code=202, headers={"Cache-Control": "no-store"})


def for_http_error(exc: StarletteHTTPException) -> JSONResponse:
    """The framework's own refusals (no route, wrong method, ...) in the contract's shape."""
    code = STATUS_CODES.get(exc.status_code, ErrorCode.INVALID_REQUEST)
    message = exc.detail if isinstance(exc.detail, str) and exc.status_code != 400 else "The request is not valid."
    return error_response(exc.status_code, code, message, dict(exc.headers or {}) or None)


SEND_JSON = "Send the body as a JSON object, with Content-Type: application/json."
# Fields whose rule is the service's, not the schema's (whose caps only bound absurd input)
FIELD_RULES = {"username": USERNAME_HELP}


def _problem(err: Any) -> str:
    """One validation error as a person can act on it (never quoting the input: it may be a password)."""
    kind, loc = err.get("type"), tuple(err.get("loc", ()))
    if kind == "json_invalid":
        at = next((p for p in loc if isinstance(p, int)), None)
        reason = err.get("ctx", {}).get("error", "not JSON")
        place = f" at character {at}" if at is not None else ""
        return f"The body is not valid JSON ({reason}{place}). {SEND_JSON}"
    if loc == ("body",) and kind in ("model_attributes_type", "dict_type"):
        if isinstance(err.get("input"), (bytes, str)):
            return f"The body was not read as JSON. {SEND_JSON}"
        return f"The body must be a JSON object, not another JSON value. {SEND_JSON}"
    where = ".".join(str(p) for p in loc if p != "body") or "body"
    rule = FIELD_RULES.get(str(loc[-1])) if loc else None
    return f"{where}: {rule or err.get('msg', 'invalid')}"


def _validation_message(exc: RequestValidationError) -> str:
    problems = list(dict.fromkeys(_problem(err) for err in exc.errors()[:5]))
    return "; ".join(problems) or "The request is not valid."


def install(app: FastAPI) -> None:
    """Register handlers so every error, even an unexpected one, has the contract's shape."""

    async def frontdesk_error(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, e.FrontdeskError):
            raise exc
        return for_error(exc)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):
            raise exc
        return error_response(400, ErrorCode.INVALID_REQUEST, _validation_message(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):
            raise exc
        if exc.status_code == 405:
            exc.headers = {**(exc.headers or {}), "Allow": allowed_methods(request)}
        return for_http_error(exc)

    async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        DATABASE_OUTAGE.failed(exc, "request")
        return unavailable_response()

    async def second_factor_required(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, e.SecondFactorRequired):  # registered for this class only
            raise exc
        return mfa_required(exc)

    app.add_exception_handler(e.FrontdeskError, frontdesk_error)
    app.add_exception_handler(e.SecondFactorRequired, second_factor_required)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, database_unavailable)


def document_errors(schema: dict[str, Any]) -> None:
    """Make the OpenAPI document say what is really answered: validation errors are 400
    `invalid_request` (never FastAPI's 422), and every unsafe operation may be refused by the
    middleware. (`openapi.install` applies it once to the built document.)"""
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            answers = operation.setdefault("responses", {})
            answers.pop("422", None)
            if method in UNSAFE_METHODS:
                for code, status in (*MIDDLEWARE_ERRORS.items(), (ErrorCode.INVALID_REQUEST, 400)):
                    _add_code(answers, status, code)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def _add_code(answers: dict[str, Any], status: int, code: ErrorCode) -> None:
    answer = answers.setdefault(
        str(status),
        {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
    )
    prefix = "Error codes: "
    description = str(answer.get("description", ""))
    names = set(description.removeprefix(prefix).split(", ")) if description.startswith(prefix) else set()
    answer["description"] = prefix + ", ".join(sorted(names | {code.value}))


def responses(*codes: ErrorCode, non_json_route: bool = False) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses` for a route: each status it can answer with and the codes behind it.

    `non_json_route`: the route's own answer is not JSON (HTML, Prometheus text), so its errors
    name their `application/json` body explicitly instead of taking the route's media type."""
    by_status: dict[int, list[str]] = {}
    for code in (*codes, ErrorCode.INVALID_REQUEST):
        status = (
            next((s for _, s, c in ERRORS if c is code), None)
            or MIDDLEWARE_ERRORS.get(code)
            or next((s for s, c in STATUS_CODES.items() if c is code), 400)
        )
        by_status.setdefault(status, []).append(code.value)
    by_status.setdefault(503, []).append(ErrorCode.SERVICE_UNAVAILABLE.value)
    body: dict[str, object] = (
        {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        if non_json_route
        else {"model": ErrorBody}
    )
    return {
        status: {**body, "description": "Error codes: " + ", ".join(sorted(set(names)))}
        for status, names in sorted(by_status.items())
    }
