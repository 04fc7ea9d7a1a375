"""`Frontdesk`: the library's entry point. Holds the engine, the collaborators and the touch flusher,
and runs each use case in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cached_property
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from frontdesk.clock import Clock
from frontdesk.db import make_engine, make_sessionmaker, transaction
from frontdesk.migrate import UpgradeReport, upgrade
from frontdesk.service.deps import Deps
from frontdesk.service.touches import TouchFlusher
from frontdesk.settings import Settings

if TYPE_CHECKING:
    from frontdesk.service.fastpath import AsyncPrincipalLookup

P = ParamSpec("P")
R = TypeVar("R")


class Frontdesk:
    """One per process. `call(use_case, *args)` runs `use_case(db, deps, *args)` in one transaction
    (`read` in a read-only one); the CLI composes use cases in `with fd.transaction() as db:`.

    >>> fd = Frontdesk(Settings())
    >>> fd.call(login_with_password, "alice", "correct horse", False, RequestContext())
    """

    def __init__(self, settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings)
        self.factory = make_sessionmaker(self.engine)
        self.read_factory = make_sessionmaker(self.engine, readonly=True)
        self.deps = Deps.from_settings(settings, clock)
        self._flusher: TouchFlusher | None = None

    def __repr__(self) -> str:
        return f"Frontdesk(database={self.engine.url.render_as_string(hide_password=True)!r})"

    @cached_property
    def verify_lookup(self) -> AsyncPrincipalLookup | None:
        """The asyncpg hot path for `/v1/verify` on PostgreSQL, made on first use (only the server
        uses it, so the library mode needs no asyncpg); None on SQLite, which has no async driver here."""
        if self.engine.dialect.name != "postgresql" or self.settings.verify_connections <= 0:
            return None
        from frontdesk.service.fastpath import AsyncPrincipalLookup

        return AsyncPrincipalLookup(
            self.engine.url,
            connections=self.settings.verify_connections,
            statement_timeout=self.settings.db_statement_timeout,
            idle_ttl=self.settings.session_idle_ttl,
        )

    def transaction(self, *, readonly: bool = False) -> AbstractContextManager[Session]:
        """The unit of work of an edge that composes several use cases (the CLI): see
        `frontdesk.db.transaction`. `readonly=True` is for work that never writes."""
        return transaction(self.read_factory if readonly else self.factory)

    def call(self, use_case: Callable[Concatenate[Session, Deps, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a use case in one write transaction: commit on success, roll back on error
        (but keep what an outcome-error such as a failed login recorded)."""
        with self.transaction() as db:
            return use_case(db, self.deps, *args, **kwargs)

    def read(self, use_case: Callable[Concatenate[Session, Deps, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a use case that only reads (on SQLite it then never waits for writers)."""
        with self.transaction(readonly=True) as db:
            return use_case(db, self.deps, *args, **kwargs)

    def flush_touches(self) -> int:
        return self.deps.touches.flush(self.factory)

    def start(self) -> None:
        """Start background work: the touch flusher."""
        if self._flusher is None:
            self._flusher = TouchFlusher(self.flush_touches, self.settings.touch_flush_interval.total_seconds())
            self._flusher.start()

    def close(self) -> None:
        """Stop background work, write pending touches, release connections."""
        if self._flusher is not None:
            self._flusher.stop()
            self._flusher = None
        else:
            self.flush_touches()
        self.engine.dispose()

    async def close_async(self) -> None:
        """Close the async pool (call from the event loop that used it)."""
        lookup = self.__dict__.get("verify_lookup")  # never made: nothing to close
        if lookup is not None:
            await lookup.close()

    def migrate(self) -> UpgradeReport:
        """Bring the schema to the newest version; returns which migrations ran."""
        return upgrade(self.engine)

    def database_ok(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True
