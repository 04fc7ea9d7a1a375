"""FastAPI dependencies: the Frontdesk instance, the request context, and who is calling."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from frontdesk.errors import Forbidden, SecondFactorEnrolmentRequired
from frontdesk.runtime import Frontdesk
from frontdesk.service import enrolment, freshness
from frontdesk.service.context import Principal, RequestContext
from frontdesk.web.authn import Refused, identify
from frontdesk.web.credentials import RequestInfo
from frontdesk.web.errors import AmbiguousCredentials, Unauthenticated

F = TypeVar("F", bound=Callable[..., object])


class Access(StrEnum):
    """Who may call a route. Every route declares one; a test fails on any that doesn't."""

    OPEN = "open"  # anyone
    USER = "user"  # a valid session or API key
    ADMIN = "admin"  # a superuser's session
    PROXY = "proxy"  # reverse proxies asking "is this request signed in?"
    OPS = "ops"  # health, metrics, documentation
    DEV = "dev"  # development only; 404 in production


ACCESS_ATTRIBUTE = "__frontdesk_access__"


def access(level: Access) -> Callable[[F], F]:
    def mark(endpoint: F) -> F:
        setattr(endpoint, ACCESS_ATTRIBUTE, level)
        return endpoint

    return mark


def access_of(endpoint: object) -> Access | None:
    return getattr(endpoint, ACCESS_ATTRIBUTE, None)


ENROLMENT_ATTRIBUTE = "__frontdesk_open_while_enrolling__"


def open_while_enrolling(endpoint: F) -> F:
    """Mark a route a user who must enrol a second factor may still use (FRONTDESK_REQUIRE_SECOND_FACTOR):
    managing second factors, re-authenticating, their session. Every other route refuses them."""
    setattr(endpoint, ENROLMENT_ATTRIBUTE, True)
    return endpoint


def ensure_enrolled(fd: Frontdesk, principal: Principal, endpoint: object) -> None:
    """403 `second_factor_required` for a caller the policy asks to enrol a second factor first,
    unless `endpoint` is `open_while_enrolling`. The one place the policy is applied (API and pages)."""
    if getattr(endpoint, ENROLMENT_ATTRIBUTE, False) or not enrolment.covered(fd.settings, principal):
        return
    if fd.read(enrolment.must_enrol, principal):
        raise SecondFactorEnrolmentRequired()


def get_frontdesk(request: Request) -> Frontdesk:
    fd: Frontdesk = request.app.state.frontdesk
    return fd


def get_context(request: Request) -> RequestContext:
    info: RequestInfo = request.app.state.request_info
    return info.context(request)


def find_principal(fd: Frontdesk, request: Request) -> Principal | None:
    """The caller's valid session, if any; AmbiguousCredentials when the request is refused."""
    caller = identify(fd, request.scope["headers"])
    if isinstance(caller, Refused):
        raise AmbiguousCredentials(caller.message)
    return caller


def optional_principal(request: Request, fd: Annotated[Frontdesk, Depends(get_frontdesk)]) -> Principal | None:
    principal = find_principal(fd, request)
    if principal is not None:
        ensure_enrolled(fd, principal, request.scope.get("endpoint"))
    return principal


def require_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise Unauthenticated()
    return principal


def require_superuser(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None or not principal.is_superuser:
        raise Forbidden("Only administrators can do this.")
    return principal


def require_fresh(
    principal: Annotated[Principal, Depends(require_principal)], fd: Annotated[Frontdesk, Depends(get_frontdesk)]
) -> Principal:
    """A cookie session in which a factor was proved within REAUTH_MAX_AGE (`service/freshness.py`):
    403 `reauthentication_required` when older, 403 `forbidden` for an API key."""
    return freshness.ensure_fresh(fd.deps, principal)


FD = Annotated[Frontdesk, Depends(get_frontdesk)]
Ctx = Annotated[RequestContext, Depends(get_context)]
MaybeCaller = Annotated[Principal | None, Depends(optional_principal)]
Caller = Annotated[Principal, Depends(require_principal)]
Admin = Annotated[Principal, Depends(require_superuser)]
Fresh = Annotated[Principal, Depends(require_fresh)]
