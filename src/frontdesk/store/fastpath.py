"""The verify hot path on PostgreSQL: concurrent checks share one statement on a few connections.

Every verification that arrives while the connections are busy waits in one queue; the next free
connection takes everything queued and answers it with one prepared statement (`unnest` of the
token hashes joined to `sessions`). A quiet server thus pays one round trip per check, and a busy
one far less than one, with no pool hand-out per request and no ORM objects. Each statement starts
after every check in it arrived, so a revocation committed before a request is seen by it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.engine import URL

from frontdesk.metrics import VERIFY_BATCH
from frontdesk.store.sessions import Principal, principal_batch_query, principal_from

log = logging.getLogger(__name__)

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

# one waiting check: token hash, kind, its arrival time, and where its answer goes
_Check = tuple[bytes, bool, datetime, "asyncio.Future[Principal | None]"]
_PARAMETERS = ["token_hashes", "is_api_keys", "now", "idle_cutoff"]


def _compile() -> str:
    """The SQL text of the batch query for asyncpg (`$1` hashes, `$2` kinds, `$3` now, `$4` idle cutoff)."""
    compiled = principal_batch_query().compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
    if list(compiled.positiontup or []) != _PARAMETERS:
        raise RuntimeError(f"the batch query's parameters are {compiled.positiontup}, not {_PARAMETERS}")
    return str(compiled)


class AsyncPrincipalLookup:
    """Finds principal rows for token hashes, batching concurrent checks onto `connections` connections.

    Connections are opened lazily inside the serving event loop (one set per worker process).
    """

    def __init__(
        self, url: URL, *, connections: int, statement_timeout: timedelta, idle_ttl: timedelta, max_batch: int = 512
    ) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._size = connections
        self._timeout_ms = int(statement_timeout.total_seconds() * 1000)
        self._idle_ttl = idle_ttl
        self._max_batch = max_batch
        self._sql = _compile()
        self._queue: deque[_Check] = deque()
        self._idle: deque[asyncio.Future[None]] = deque()  # one per connection waiting for work
        self._workers: set[asyncio.Task[None]] = set()  # one per connection, open or opening
        self._closed = False

    def __repr__(self) -> str:
        return f"AsyncPrincipalLookup(connections={self._size})"

    async def find(self, token_hash: bytes, is_api_key: bool, now: datetime) -> Principal | None:
        """The principal of a valid session with this hash and kind, checked no earlier than `now`."""
        if self._closed:
            raise asyncpg.InterfaceError("the verify connections are closed")
        future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._queue.append((token_hash, is_api_key, now, future))
        if not self._wake() and len(self._workers) < self._size:
            self._open()
        return await future

    def _wake(self) -> bool:
        """Hand the queue to a connection waiting for work, if there is one."""
        while self._idle:
            idle = self._idle.popleft()
            if not idle.done():
                idle.set_result(None)
                return True
        return False

    def _open(self) -> None:
        task = asyncio.get_running_loop().create_task(self._serve())
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    async def _connect(self) -> asyncpg.Connection[Any]:
        return await asyncpg.connect(
            self._dsn,
            timeout=5,
            command_timeout=self._timeout_ms / 1000,
            server_settings={"statement_timeout": str(self._timeout_ms), "application_name": "frontdesk-verify"},
        )

    async def _serve(self) -> None:
        """One connection's life: take all queued checks, answer them in one statement, repeat."""
        try:
            connection = await self._connect()
        except BaseException as exc:
            self._give_up(exc)
            return
        try:
            statement = await connection.prepare(self._sql)
            while not self._closed:
                if connection.is_closed():
                    # closed by the server while idle (restart, idle timeout): nothing was sent, so
                    # the queue is not failed; a fresh connection takes it
                    self._replace()
                    return
                if not self._queue:
                    idle = asyncio.get_running_loop().create_future()
                    self._idle.append(idle)
                    await idle
                    continue
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
                await self._answer(statement, batch)
        except BaseException as exc:
            # an interrupted connection may be mid-protocol: drop it; the next check opens a fresh one
            connection.terminate()
            self._give_up(exc)
            return
        await connection.close()

    def _leave(self) -> None:
        """Forget this connection's task now (its done-callback runs only later)."""
        task = asyncio.current_task()
        if task is not None:
            self._workers.discard(task)

    def _replace(self) -> None:
        self._leave()
        if self._queue and not self._closed:
            self._open()

    def _give_up(self, exc: BaseException) -> None:
        """This connection is gone. If it was the last one, fail what is queued rather than leave it waiting."""
        if not isinstance(exc, (*UNAVAILABLE, asyncio.CancelledError)):
            log.error("verify.connection_failed", exc_info=exc)
        self._leave()
        if self._workers:
            return  # another connection (open or opening) will take the queue
        while self._queue:
            _fail(self._queue.popleft()[3], exc)

    async def _answer(self, statement: asyncpg.prepared_stmt.PreparedStatement[Any], batch: list[_Check]) -> None:
        now = max(check[2] for check in batch)
        try:
            rows = await statement.fetch([c[0] for c in batch], [c[1] for c in batch], now, now - self._idle_ttl)
        except BaseException as exc:
            for *_, future in batch:
                _fail(future, exc)
            raise
        VERIFY_BATCH.observe(len(batch))
        found = {(row["wanted_hash"], row["wanted_kind"]): row for row in rows}
        for token_hash, is_api_key, _, future in batch:
            if not future.done():
                row = found.get((token_hash, is_api_key))
                future.set_result(None if row is None else principal_from(row))

    async def close(self) -> None:
        self._closed = True
        while self._wake():
            pass
        if self._workers:
            await asyncio.gather(*self._workers, return_exceptions=True)
        closed = asyncpg.InterfaceError("the verify connections are closed")
        while self._queue:
            _fail(self._queue.popleft()[3], closed)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)
