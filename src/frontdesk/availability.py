"""Is the database there? One-line explanations of why not, and an outage log that speaks once.

`check_database` is what every CLI command asks first; `explain` turns a driver's connection
error into one line a person can act on; `Outage` (one per process: `DATABASE_OUTAGE`) logs an
outage when it starts, a summary while it lasts, and its end, instead of a traceback per retry.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from frontdesk.errors import DatabaseUnavailable
from frontdesk.settings import hide_password

log = logging.getLogger("frontdesk.database")

# Errors that mean "the database is not answering" (as opposed to a bug).
UNAVAILABLE: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, PoolTimeout)

_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), hint)
    for pattern, hint in (
        (
            r'database "([^"]+)" does not exist',
            "create it (createdb {0}) or point the URL at one that does",
        ),
        (r"connection refused", "nothing answers there: start PostgreSQL, or fix the host and port"),
        (r"resolve host|name or service not known|translate host name|nodename nor servname", "fix the host name"),
        (
            r"role .* does not exist|password|pg_hba\.conf",
            "fix the user or password (or the server's pg_hba.conf)",
        ),
        (r"timeout|timed out", "the server did not answer in time: check that it runs and is reachable from here"),
        (r"unable to open database file", "the folder must exist and this user must be able to write to it"),
        (r"no such table|undefinedtable|does not exist", "run `frontdesk migrate` first"),
    )
)


def reason(exc: BaseException) -> str:
    """The driver's own words for what went wrong, on one line, without the connection preamble."""
    cause = getattr(exc, "orig", None) or exc
    text = " ".join(str(cause).split())
    text = text.rsplit(" failed: ", 1)[-1]  # psycopg: 'connection to server at "h", port 5432 failed: …'
    text = re.sub(r"^(FATAL|ERROR):\s*", "", text)
    text = text.split(" Is the server running")[0]  # libpq's own hint; ours follows
    return text.strip() or type(cause).__name__


def explain(exc: BaseException, url: str) -> str:
    """One line: which database, what happened, what to do. Never shows the password."""
    why = reason(exc)
    for pattern, hint in _HINTS:
        match = pattern.search(why)
        if match:
            todo = hint.format(*match.groups())
            break
    else:
        todo = "check FRONTDESK_DATABASE_URL and that the database is running"
    return f"cannot use the database {hide_password(url)}: {why}; {todo}"


def check_database(engine: Engine, url: str, *, migrated: bool = True) -> None:
    """Connect once (and, with `migrated`, look for frontdesk's schema); raise `DatabaseUnavailable`
    with a one-line message if the database can't be used."""
    try:
        with engine.connect() as conn:
            if migrated and not inspect(conn).has_table("alembic_version"):
                raise DatabaseUnavailable(
                    f"the database {hide_password(url)} has no frontdesk tables yet; run `frontdesk migrate` first"
                )
    except UNAVAILABLE as exc:
        raise DatabaseUnavailable(explain(exc, url)) from None


class Outage:
    """Logs a database outage once when it starts, a summary every `every` seconds while it lasts,
    and its end. Thread-safe; `failed()` and `recovered()` may come from any thread."""

    def __init__(self, *, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._reported = 0.0
        self._failures = 0

    @property
    def down(self) -> bool:
        return self._since is not None

    @property
    def failures(self) -> int:
        """Failed attempts in the current outage (0 when up)."""
        return self._failures

    def failed(self, exc: BaseException, where: str) -> None:
        """`where` (e.g. "mail worker") could not reach the database."""
        with self._lock:
            now = self._clock()
            self._failures += 1
            if self._since is None:
                self._since = self._reported = now
                log.error(
                    "database unavailable (%s): %s; retrying, with a summary every %ds until it is back",
                    where,
                    reason(exc),
                    self.every,
                    extra={"event": "database.down", "where": where},
                )
            elif now - self._reported >= self.every:
                self._reported = now
                log.warning(
                    "database still unavailable after %ds (%d failed attempts); last error (%s): %s",
                    now - self._since,
                    self._failures,
                    where,
                    reason(exc),
                    extra={"event": "database.still_down", "failures": self._failures},
                )

    def recovered(self) -> None:
        """The database answered again (a no-op unless it was down)."""
        with self._lock:
            if self._since is None:
                return
            log.warning(
                "database available again after %ds (%d failed attempts)",
                self._clock() - self._since,
                self._failures,
                extra={"event": "database.up", "failures": self._failures},
            )
            self._since, self._failures = None, 0


DATABASE_OUTAGE = Outage()
