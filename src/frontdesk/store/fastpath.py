"""The verify hot path on PostgreSQL: the principal statement, prepared once per connection,
run through an asyncpg pool with no ORM objects and no thread hop."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import URL

from frontdesk.store.sessions import PRINCIPAL_QUERY, principal_params

# Errors that mean "the database is not answering", as opposed to a bug.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.QueryCanceledError,
    asyncpg.AdminShutdownError,
    asyncpg.PostgresError,  # any other server-side failure (starting up, shutting down, …)
    asyncpg.exceptions.InternalClientError,
)


async def _keep_as_is(_connection: asyncpg.Connection[Any]) -> None:
    """Pool release hook. The default reset costs a round trip per request (UNLISTEN, RESET ALL…);
    these connections only ever run one read-only statement, so there is nothing to reset."""


def _compile() -> tuple[str, list[str]]:
    """The SQL text of PRINCIPAL_QUERY for asyncpg (`$n` parameters) and the parameter order."""
    compiled = PRINCIPAL_QUERY.compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
    order = list(compiled.positiontup or [])
    return str(compiled), order


class AsyncPrincipalLookup:
    """Finds the principal row for a token hash in one round trip, on a per-process asyncpg pool.

    The pool is created lazily inside the serving event loop (one per worker process).
    """

    def __init__(self, url: URL, *, pool_size: int, statement_timeout: timedelta) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool_size = pool_size
        self._timeout_ms = int(statement_timeout.total_seconds() * 1000)
        self._sql, self._order = _compile()
        self._pool: asyncpg.Pool[Any] | None = None

    def __repr__(self) -> str:
        return f"AsyncPrincipalLookup(pool_size={self._pool_size})"

    async def _get_pool(self) -> asyncpg.Pool[Any]:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                timeout=5,
                reset=_keep_as_is,
                command_timeout=self._timeout_ms / 1000,
                server_settings={"statement_timeout": str(self._timeout_ms), "application_name": "frontdesk-verify"},
            )
        return self._pool

    async def find(
        self, token_hash: bytes, is_api_key: bool, now: datetime, idle_ttl: timedelta
    ) -> tuple[int, int, str, datetime, bool, bool] | None:
        params = principal_params(token_hash, is_api_key, now, idle_ttl)
        pool = await self._get_pool()
        async with pool.acquire() as connection:
            try:
                row = await connection.fetchrow(self._sql, *(params[name] for name in self._order))
            except BaseException:
                # Released without a reset (see _keep_as_is), a connection interrupted mid-query
                # could be handed out in a broken state: drop it, and the pool opens a fresh one.
                connection.terminate()
                raise
        if row is None:
            return None
        return (row[0], row[1], row[2], row[3], row[4], row[5])

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
