"""frontdesk as a library: FastAPI dependencies that authenticate your own app's requests against
frontdesk's database, in your process, with the same rules as `frontdesk serve`.

    auth = FrontdeskAuth(Settings(database_url="postgresql://app@db/app"))
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)

    @app.get("/notes")
    def notes(user: Annotated[Principal, Depends(auth.require_user)]) -> list[Note]: ...

See docs/library.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from frontdesk.errors import InsufficientAuthentication
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import Principal
from frontdesk.service.freshness import satisfies
from frontdesk.settings import Settings, load_settings
from frontdesk.web.authn import Refused, identify
from frontdesk.web.errors import (
    DATABASE_ERRORS,
    UNAVAILABLE_MESSAGE,
    UNAVAILABLE_RETRY_AFTER,
    ErrorCode,
    step_up_challenge,
)
from frontdesk.web.middleware import CsrfMiddleware


class AuthError(HTTPException):
    """A refusal by a FrontdeskAuth dependency. With `FrontdeskAuth.install(app)` it is answered in
    frontdesk's error shape, `{"error": {"code", "message"}}`; without, as FastAPI's `{"detail"}`."""

    def __init__(self, status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code


class FrontdeskAuth:
    """Who is calling your FastAPI app, decided by frontdesk's sessions and API keys.

    The dependencies follow the contract exactly as the server does: the `frontdesk-session`
    cookie only matches browser sessions and `Authorization: Bearer` only matches API keys; a
    request carrying both is refused (401 `ambiguous_credentials`); sessions of banned or deleted
    users, and ended or expired ones, are invalid at once; every authenticated request counts as
    a use of its session (`last_seen`, `api_calls`), written in the background.

    :param settings: frontdesk's settings (the same database as your frontdesk server); read
        from the `FRONTDESK_*` environment when omitted.
    :param frontdesk: an existing `Frontdesk` to share instead (then `settings` is ignored).
    """

    def __init__(self, settings: Settings | None = None, *, frontdesk: Frontdesk | None = None) -> None:
        self.frontdesk = frontdesk or Frontdesk(settings or load_settings())

    @property
    def settings(self) -> Settings:
        return self.frontdesk.settings

    # --- dependencies ---------------------------------------------------------------------------

    def optional_user(self, request: Request) -> Principal | None:
        """The caller, or None when the request carries no valid session or API key.

        Still refuses (401 `ambiguous_credentials`) a request whose credentials can't be read as
        one: a cookie and an Authorization header, or two different session cookies.
        """
        try:
            caller = identify(self.frontdesk, request.scope["headers"])
        except DATABASE_ERRORS:
            retry = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)}
            raise AuthError(503, ErrorCode.SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE, retry) from None
        if isinstance(caller, Refused):
            raise AuthError(401, ErrorCode.AMBIGUOUS_CREDENTIALS, caller.message)
        return caller

    def require_user(self, request: Request) -> Principal:
        """The caller; 401 `unauthenticated` when the request is not signed in."""
        principal = self.optional_user(request)
        if principal is None:
            raise AuthError(401, ErrorCode.UNAUTHENTICATED, "Sign in first.")
        return principal

    def require_browser(self, request: Request) -> Principal:
        """A caller with a browser (cookie) session; API keys get 403 `forbidden`."""
        principal = self.require_user(request)
        if principal.is_api_key:
            raise AuthError(403, ErrorCode.FORBIDDEN, "Sign in with a browser session to do this.")
        return principal

    def require_superuser(self, request: Request) -> Principal:
        """A superuser; anyone else gets 403 `forbidden` (as frontdesk's admin endpoints answer)."""
        principal = self.optional_user(request)
        if principal is None or not principal.is_superuser:
            raise AuthError(403, ErrorCode.FORBIDDEN, "Only administrators can do this.")
        return principal

    def require_aal(self, level: int = 2) -> Callable[[Request], Principal]:
        """A dependency: the caller, signed in at assurance level `level` (2: a second factor or a
        passkey); else 401 `insufficient_user_authentication` with the RFC 9470 challenge
        `WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values="aal2"`,
        as `GET /v1/verify?aal=2` answers. API keys are aal 1.

            Strong = Annotated[Principal, Depends(auth.require_aal(2))]
        """
        if level not in (1, 2):
            raise ValueError("the assurance level is 1 or 2")

        def require_aal(request: Request) -> Principal:
            return self._step_up(self.require_user(request), aal=level, max_age=None)

        return require_aal

    def require_fresh(self, max_age: timedelta | int | None = None) -> Callable[[Request], Principal]:
        """A dependency: the caller, who proved a factor in this session within `max_age` (a
        timedelta or seconds; default `settings.reauth_max_age`); else 401
        `insufficient_user_authentication` with `WWW-Authenticate: Bearer
        error="insufficient_user_authentication", max_age=N`, as `GET /v1/verify?max_age=N`
        answers. The person renews it with frontdesk's `POST /v1/reauthenticate` (or the
        `/reauthenticate` page).

            Recent = Annotated[Principal, Depends(auth.require_fresh(300))]
        """
        age = timedelta(seconds=max_age) if isinstance(max_age, int) else max_age
        if age is not None and age < timedelta(0):
            raise ValueError("max_age can't be negative")

        def require_fresh(request: Request) -> Principal:
            wanted = self.settings.reauth_max_age if age is None else age
            return self._step_up(self.require_user(request), aal=None, max_age=wanted)

        return require_fresh

    def _step_up(self, principal: Principal, *, aal: int | None, max_age: timedelta | None) -> Principal:
        if satisfies(principal, self.frontdesk.deps.clock.now(), aal=aal, max_age=max_age):
            return principal
        wanted_aal = aal if aal is not None and aal > 1 else None
        seconds = None if max_age is None else int(max_age.total_seconds())
        refusal = InsufficientAuthentication(aal=wanted_aal, max_age=seconds)
        challenge = {"WWW-Authenticate": step_up_challenge(wanted_aal, seconds)}
        raise AuthError(401, ErrorCode.INSUFFICIENT_USER_AUTHENTICATION, str(refusal), challenge)

    # --- wiring ---------------------------------------------------------------------------------

    def install(self, app: FastAPI, *, csrf: bool = True) -> None:
        """Answer refusals in frontdesk's error shape and, with `csrf`, add frontdesk's CSRF check.

        Cookie-authenticated unsafe requests (POST, PUT, PATCH, DELETE) must then come from the
        public URL's origin or one of `allowed_origins` (by `Origin`, else `Referer`, or
        `Sec-Fetch-Site: same-origin`); bearer-only requests are exempt.
        """

        async def refused(_: Request, exc: Exception) -> JSONResponse:
            if not isinstance(exc, AuthError):  # registered for AuthError only
                raise exc
            body = {"error": {"code": exc.code.value, "message": exc.detail}}
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

        app.add_exception_handler(AuthError, refused)
        if csrf:
            settings = self.settings
            app.add_middleware(CsrfMiddleware, public_url=settings.public_url, allowed_origins=settings.allowed_origins)

    def start(self) -> None:
        """Start writing session uses (`last_seen`, `api_calls`) in the background."""
        self.frontdesk.start()

    def close(self) -> None:
        """Write the pending uses and release the database connections."""
        self.frontdesk.close()

    @asynccontextmanager
    async def lifespan(self, _: Any) -> AsyncIterator[None]:
        """A FastAPI/Starlette `lifespan`: `start()` on startup, `close()` on shutdown."""
        self.start()
        try:
            yield
        finally:
            await self.frontdesk.close_async()
            self.close()
