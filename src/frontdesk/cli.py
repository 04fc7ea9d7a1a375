"""The `frontdesk` command. Thin: arguments → settings → one service call per transaction."""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from frontdesk.availability import UNAVAILABLE, check_database, explain
from frontdesk.db import make_engine
from frontdesk.errors import ConfigurationError, DatabaseUnavailable, FrontdeskError
from frontdesk.mail import outbox_status, run_worker
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user, find_user_by_ref, set_banned
from frontdesk.service.admin import issue_api_key
from frontdesk.service.context import RequestContext
from frontdesk.service.maintenance import cleanup as cleanup_dead
from frontdesk.service.sessions import end_session_by_id, list_sessions
from frontdesk.settings import API_KEY_MAX_DAYS, API_KEY_MIN_DAYS, Settings, load_settings

app = typer.Typer(
    help="frontdesk: authentication and sessions for web apps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)
T = TypeVar("T")
CLI = RequestContext(ip_address=None, user_agent="frontdesk-cli")


def _fail(message: str, code: int) -> NoReturn:
    """Print `Error: …` (one line per line of `message`) on stderr and exit with `code`:
    2 for configuration and database problems, 1 for a refused operation."""
    for line in message.splitlines() or ["failed"]:
        errors.print(f"Error: {line}", style="red", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        _fail(str(exc), 2)


def _frontdesk(*, migrated: bool = True) -> Frontdesk:
    """The library on the configured database, once that database answers (else exit 2)."""
    settings = _settings()
    fd = Frontdesk(settings)
    try:
        check_database(fd.engine, settings.database_url, migrated=migrated)
    except DatabaseUnavailable as exc:
        fd.close()
        _fail(str(exc), 2)
    return fd


def _check_database(settings: Settings) -> None:
    """For commands that make their own engines: fail fast, in one line, if the database can't be used."""
    engine = make_engine(settings)
    try:
        check_database(engine, settings.database_url)
    except DatabaseUnavailable as exc:
        _fail(str(exc), 2)
    finally:
        engine.dispose()


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest version."""
    fd = _frontdesk(migrated=False)
    _run(fd, fd.migrate)
    console.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API, pages and the mail sender (SIGTERM shuts down gracefully)."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    _check_database(_settings())  # fail fast, in one line, on bad configuration or an unusable database
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # /metrics then adds up every worker's counters
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="frontdesk-metrics-")
    # frontdesk's own log lines (outages, mail) in uvicorn's format; the audit trail is in the database
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["frontdesk"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    log_config["loggers"]["frontdesk.audit"] = {"level": "WARNING"}
    uvicorn.run(
        "frontdesk.web.app:create_server_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        log_config=log_config,
    )


@app.command("create-user")
def create_user_command(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="3-32 letters, digits or _.")],
    email: Annotated[str, typer.Option(prompt=True, metavar="EMAIL", help="Email address.")],
    name: Annotated[str, typer.Option(prompt=True, metavar="NAME", help="Display name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (for scripts).")
    ] = False,
    superuser: Annotated[bool, typer.Option("--superuser", help="Make an administrator.")] = False,
) -> None:
    """Create a user. The password is never an argument (arguments end up in shell history and
    `ps`): it is prompted for, hidden and twice, or read from stdin with --password-stdin."""
    fd = _frontdesk()
    password = _read_password(password_stdin)
    user = _run(
        fd,
        lambda: fd.call(
            create_user, email=email, username=username, password=password, name=name, ctx=CLI, is_superuser=superuser
        ),
    )
    console.print(f"created user {user.username} (id {user.id}){' as superuser' if superuser else ''}")


def _read_password(from_stdin: bool) -> str:
    """The first line of stdin exactly as given (only the line break is dropped), or a hidden prompt
    asked twice."""
    if not from_stdin:
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    line = typer.get_text_stream("stdin").readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        _fail('--password-stdin: stdin is empty; pipe the password in, e.g. printf %s "$PW" | frontdesk ...', 2)
    return password


@app.command("create-api-key")
def create_api_key_command(
    user: Annotated[str, typer.Argument(help="Username, email or id.")],
    days: Annotated[
        int | None,
        typer.Option(
            min=API_KEY_MIN_DAYS,
            max=API_KEY_MAX_DAYS,
            help="Days until it expires [default: FRONTDESK_API_KEY_DEFAULT_DAYS].",
            show_default=False,
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="A name to recognise the key by.")] = "created with the CLI",
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    fd = _frontdesk()

    def create() -> str:
        with fd.transaction() as db:
            target = find_user_by_ref(db, user)
            return issue_api_key(db, fd.deps, target.id, days, CLI, actor_id=None, name=name, email_it=False).token

    token = _run(fd, create)
    console.print(token, soft_wrap=True, highlight=False)
    errors.print("This key is shown once. Store it somewhere safe.")


@app.command()
def sessions(user: Annotated[str, typer.Argument(help="Username, email or id.")]) -> None:
    """List a user's valid sessions and API keys."""
    fd = _frontdesk()

    def listing() -> list[list[str]]:
        rows: list[list[str]] = []
        token: str | None = None
        with fd.transaction(readonly=True) as db:
            target = find_user_by_ref(db, user)
            while True:
                page = list_sessions(db, fd.deps, target.id, 100, token)
                for s in page.sessions:
                    rows.append(
                        [
                            str(s.id),
                            "API key" if s.is_api_key else ("remembered" if s.long_lived else "browser"),
                            s.name or "",
                            f"{s.browser} / {s.operating_system} / {s.device}",
                            s.ip_address or "",
                            s.created.strftime("%Y-%m-%d %H:%M"),
                            s.last_seen.strftime("%Y-%m-%d %H:%M"),
                            s.expiry.strftime("%Y-%m-%d"),
                            str(s.api_calls),
                        ]
                    )
                token = page.next_page_token
                if token is None:
                    return rows

    rows = _run(fd, listing)
    table = Table("id", "kind", "name", "device", "ip", "created", "last seen", "expires", "calls")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@app.command()
def revoke(session_id: int) -> None:
    """End a session or API key by its id (see `frontdesk sessions USER`)."""
    fd = _frontdesk()
    _run(fd, lambda: fd.call(end_session_by_id, session_id, CLI, actor_id=None))
    console.print(f"session {session_id} revoked")


def _set_ban(user: str, banned: bool) -> None:
    fd = _frontdesk()

    def apply() -> str:
        with fd.transaction() as db:
            target = find_user_by_ref(db, user)
            set_banned(db, fd.deps, target.id, banned, CLI, actor_id=None)
            return target.username

    username = _run(fd, apply)
    console.print(f"{username} {'banned' if banned else 'unbanned'}")


@app.command()
def ban(user: Annotated[str, typer.Argument(help="Username, email or id.")]) -> None:
    """Ban a user: every session stops working at once, everywhere."""
    _set_ban(user, True)


@app.command()
def unban(user: Annotated[str, typer.Argument(help="Username, email or id.")]) -> None:
    """Lift a ban."""
    _set_ban(user, False)


@app.command()
def cleanup(
    older_than: Annotated[int, typer.Option("--older-than", min=0, help="Days since a session or token died.")] = 30,
    batch_size: Annotated[int, typer.Option(min=100, help="Rows per short transaction.")] = 10_000,
) -> None:
    """Delete sessions, tokens and sent emails that died (expired, ended, sent) more than --older-than days ago."""
    fd = _frontdesk()
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=False) as progress:
        task = progress.add_task("sessions", total=None)

        def on_range(low: int, high: int) -> None:
            progress.update(task, total=max(0, high - low + 1))

        report = _run(
            fd,
            lambda: cleanup_dead(
                fd.factory,
                fd.deps,
                timedelta(days=older_than),
                batch_size=batch_size,
                on_range=on_range,
                progress=lambda n: progress.advance(task, n),
            ),
        )
    console.print(
        f"deleted {report.sessions} sessions, {report.tokens} tokens, {report.rate_limit_buckets} rate-limit buckets, "
        f"{report.emails} sent or failed emails"
    )


@app.command("mail-worker")
def mail_worker(
    once: Annotated[bool, typer.Option("--once", help="Send what is due now, then exit.")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Emails claimed per tick.")] = 50,
) -> None:
    """Send queued emails (also runs inside `frontdesk serve`). Several may run at once on PostgreSQL."""
    settings = _settings()
    _check_database(settings)
    try:
        report = run_worker(settings, once=once, batch=batch)
    except UNAVAILABLE as exc:
        _fail(explain(exc, settings.database_url), 2)
    console.print(f"sent={report.sent} retried={report.retried} failed={report.failed}")


@app.command("mail-status")
def mail_status() -> None:
    """Emails by state and the age of the oldest pending one."""
    fd = _frontdesk()
    counts = _run(fd, lambda: fd.read(lambda db, deps: outbox_status(db, deps.clock.now())))
    table = Table("state", "count")
    for label, value in (
        ("pending", counts.pending),
        ("due now", counts.due),
        ("sent", counts.sent),
        ("failed", counts.failed),
    ):
        table.add_row(label, str(value))
    oldest = counts.oldest_pending_age
    table.add_row("oldest pending", str(oldest).split(".")[0] if oldest is not None else "-")
    console.print(table)


def _run(fd: Frontdesk, action: Callable[[], T]) -> T:
    try:
        return action()
    except DatabaseUnavailable as exc:
        _fail(str(exc), 2)
    except UNAVAILABLE as exc:  # the database went away during the command
        _fail(explain(exc, fd.settings.database_url), 2)
    except FrontdeskError as exc:
        _fail(str(exc), 1)
    finally:
        fd.close()


def main() -> None:
    app(prog_name="frontdesk")


if __name__ == "__main__":
    main()
