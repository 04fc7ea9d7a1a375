"""The `frontdesk` command. Thin: arguments → settings → one service call per transaction."""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import version
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperArgument, TyperCommand

from frontdesk import cliview
from frontdesk.availability import UNAVAILABLE, check_database, explain
from frontdesk.db import make_engine
from frontdesk.errors import ConfigurationError, DatabaseUnavailable, FrontdeskError
from frontdesk.mail import outbox_status, run_worker
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user, find_user_by_ref, set_banned
from frontdesk.service.admin import issue_api_key, reset_second_factors
from frontdesk.service.context import RequestContext
from frontdesk.service.deletion import erase_now, schedule_deletion
from frontdesk.service.maintenance import cleanup as cleanup_dead
from frontdesk.service.sessions import SessionView, end_session_by_id, list_sessions
from frontdesk.serving import is_loopback_host, plan_public_url
from frontdesk.settings import API_KEY_MAX_DAYS, API_KEY_MIN_DAYS, Settings, load_settings

if TYPE_CHECKING:
    from typer._click.core import Context as ClickContext  # the click that this typer bundles

app = typer.Typer(
    help="frontdesk: authentication and sessions for web apps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: USERNAME metavars, bare flags, readable in a pipe
)
console = Console()
errors = Console(stderr=True)
T = TypeVar("T")
CLI = RequestContext(ip_address=None, user_agent="frontdesk-cli")
USER = Annotated[str, typer.Argument(metavar="USER", help="Username, email or id.")]
AS_JSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of text (shapes: docs/cli.md).")]


class _Argument(TyperArgument):
    """An argument shown the way click shows one: `USERNAME` in the usage line (not `{username}`),
    and no `<str>` after it in the help."""

    def get_usage_pieces(self, ctx: ClickContext) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        return [name if self.required else f"[{name}]"]

    def display_type_rich(self, ctx: ClickContext) -> str | None:
        return None


class _Command(TyperCommand):
    """Every frontdesk command: its arguments are `_Argument`s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument


def _command(name: str | None = None) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return app.command(name, cls=_Command)


def _print_json(value: object) -> None:
    typer.echo(cliview.dumps(value))


def _show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"frontdesk {version('frontdesk')}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """frontdesk: authentication and sessions for web apps."""


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


@_command()
def migrate(as_json: AS_JSON = False) -> None:
    """Create or upgrade the database schema.

    Brings it to the newest version and says which migrations ran."""
    fd = _frontdesk(migrated=False)
    report = _run(fd, fd.migrate)
    if as_json:
        _print_json(cliview.migrate_json(report))
    else:
        typer.echo(cliview.migrate_text(report))


@_command()
def serve(
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="Worker processes.")] = 1,
    insecure_dev_on_network: Annotated[
        bool,
        typer.Option(
            "--insecure-dev-on-network",
            help="Allow development mode on a non-loopback --host (say, for a phone on your own network). "
            "Development mode is not hardened: never on a network you do not trust.",
        ),
    ] = False,
) -> None:
    """Serve the API, the pages and the mail sender.

    SIGTERM shuts down gracefully. Refuses to start (exit 2) if the database can't be used."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    settings = _settings()  # fail fast, in one line, on bad configuration
    if not settings.is_production and not is_loopback_host(host):
        if not insecure_dev_on_network:
            _fail(
                f"refusing to serve development mode on {host}: it is reachable from the network. "
                "Use --host 127.0.0.1, set FRONTDESK_ENV=production (with FRONTDESK_SECRET), or pass "
                "--insecure-dev-on-network if you really mean it.",
                2,
            )
        errors.print(
            f"[bold red]WARNING: development mode on {host}, reachable from the network "
            "(--insecure-dev-on-network). Development mode is not hardened: do not use it on a network you do "
            "not trust.[/bold red]",
            soft_wrap=True,
        )
    _check_database(settings)  # and on an unusable database
    plan = plan_public_url(settings, host, port)
    if plan.follow is not None:
        os.environ["FRONTDESK_PUBLIC_URL"] = plan.follow  # read by every worker's settings
    if plan.note is not None:
        errors.print(f"[yellow]{plan.note}[/yellow]" if plan.warning else plan.note, soft_wrap=True, highlight=False)
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
        # with --workers, uvicorn kills a worker that misses a 5 s health ping, and a worker only
        # answers once it has imported frontdesk: on a busy machine that takes longer, and every
        # replacement died the same way (the server never started). 30 s still catches a hung one.
        timeout_worker_healthcheck=30,
        log_config=log_config,
    )


@_command("create-user")
def create_user_command(
    username: Annotated[str, typer.Argument(metavar="USERNAME", help="3-32 letters, digits or _.")],
    email: Annotated[str, typer.Option(prompt=True, metavar="EMAIL", help="Email address.")],
    name: Annotated[str, typer.Option(prompt=True, metavar="NAME", help="Display name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (for scripts).")
    ] = False,
    superuser: Annotated[bool, typer.Option("--superuser", help="Make an administrator.")] = False,
    as_json: AS_JSON = False,
) -> None:
    """Create a user.

    The password is never an argument (arguments end up in shell history and `ps`): it is
    prompted for, hidden and twice, or read from stdin with --password-stdin."""
    fd = _frontdesk()
    password = _read_password(password_stdin)
    user = _run(
        fd,
        lambda: fd.call(
            create_user, email=email, username=username, password=password, name=name, ctx=CLI, is_superuser=superuser
        ),
    )
    if as_json:
        _print_json({"id": user.id, "username": user.username, "email": user.email, "is_superuser": superuser})
    else:
        typer.echo(f"created user {user.username} (id {user.id}){' as superuser' if superuser else ''}")


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


@_command("create-api-key")
def create_api_key_command(
    user: USER,
    days: Annotated[
        int | None,
        typer.Option(
            min=API_KEY_MIN_DAYS,
            max=API_KEY_MAX_DAYS,
            metavar="DAYS",
            help="Days until it expires [default: FRONTDESK_API_KEY_DEFAULT_DAYS].",
            show_default=False,
        ),
    ] = None,
    name: Annotated[str, typer.Option(metavar="NAME", help="A name to recognise the key by.")] = "created with the CLI",
    as_json: AS_JSON = False,
) -> None:
    """Create an API key and print it once.

    Only its hash is stored: it can't be shown again."""
    fd = _frontdesk()

    def create() -> cliview.Json:
        with fd.transaction() as db:
            target = find_user_by_ref(db, user)
            issued = issue_api_key(db, fd.deps, target.id, days, CLI, actor_id=None, name=name, email_it=False)
            return {
                "id": issued.session.id,
                "user_id": target.id,
                "name": name,
                "token": issued.token,
                "expiry": cliview.timestamp(issued.session.expiry),
            }

    key = _run(fd, create)
    if as_json:
        _print_json(key)
    else:
        typer.echo(key["token"])
    errors.print("This key is shown once. Store it somewhere safe.", highlight=False)


@_command()
def sessions(user: USER, as_json: AS_JSON = False) -> None:
    """List a user's sessions and API keys.

    Valid ones only, most recently used first. A table on wide terminals, else a block each."""
    fd = _frontdesk()

    def listing() -> tuple[int, str, list[SessionView]]:
        found: list[SessionView] = []
        token: str | None = None
        with fd.transaction(readonly=True) as db:
            target = find_user_by_ref(db, user)
            while True:
                page = list_sessions(db, fd.deps, target.id, 100, token)
                found.extend(page.sessions)
                token = page.next_page_token
                if token is None:
                    return target.id, target.username, found

    user_id, username, found = _run(fd, listing)
    if as_json:
        _print_json(cliview.sessions_json(user_id, username, found))
    else:
        console.print(cliview.sessions_text(username, found, console.width), highlight=False)


@_command()
def revoke(session_id: Annotated[int, typer.Argument(metavar="SESSION_ID", help="From `frontdesk sessions`.")]) -> None:
    """End a session or API key by its id.

    The ids are in `frontdesk sessions USER`."""
    fd = _frontdesk()
    _run(fd, lambda: fd.call(end_session_by_id, session_id, CLI, actor_id=None))
    typer.echo(f"session {session_id} revoked")


def _set_ban(user: str, banned: bool) -> None:
    fd = _frontdesk()

    def apply() -> str:
        with fd.transaction() as db:
            target = find_user_by_ref(db, user)
            set_banned(db, fd.deps, target.id, banned, CLI, actor_id=None)
            return target.username

    username = _run(fd, apply)
    typer.echo(f"{username} {'banned' if banned else 'unbanned'}")


@_command()
def ban(user: USER) -> None:
    """Ban a user: every session ends at once.

    Everywhere, sessions and API keys alike, for good (an unban brings none back)."""
    _set_ban(user, True)


@_command()
def unban(user: USER) -> None:
    """Lift a ban."""
    _set_ban(user, False)


@_command("delete-user")
def delete_user(
    user: USER,
    now: Annotated[bool, typer.Option("--now", help="Erase at once: no grace period, no restore link.")] = False,
) -> None:
    """Delete a user's account.

    Every session and API key ends at once. The owner is emailed a restore link that works for
    FRONTDESK_ACCOUNT_DELETION_GRACE; `frontdesk cleanup` erases the account after it. With --now
    the account is erased at once (its username stays reserved)."""
    fd = _frontdesk()

    def apply() -> str:
        with fd.transaction() as db:
            target = find_user_by_ref(db, user)
            if now:
                erase_now(db, fd.deps, target, actor_id=None)
                return f"{target.username} deleted and erased"
            erase_at = schedule_deletion(db, fd.deps, target, CLI, actor_id=None)
            return f"{target.username} deleted; erased after {cliview.timestamp(erase_at)} unless restored"

    typer.echo(_run(fd, apply))


@_command("reset-second-factors")
def reset_second_factors_command(user: USER, as_json: AS_JSON = False) -> None:
    """Remove a user's second factors, for one who lost theirs.

    Every authenticator app, security key, passkey and recovery code goes, every session and
    API key ends, and the user is emailed. They sign in again with their password alone."""
    fd = _frontdesk()

    def apply() -> cliview.Json:
        with fd.transaction() as db:
            target = find_user_by_ref(db, user)
            done = reset_second_factors(db, fd.deps, target.id, CLI, actor_id=None)
            return {
                "user_id": target.id,
                "username": target.username,
                "totp": done.totp,
                "webauthn": done.webauthn,
                "recovery_codes": done.recovery_codes,
                "sessions": done.sessions,
            }

    report = _run(fd, apply)
    if as_json:
        _print_json(report)
        return
    typer.echo(
        f"{report['username']}: removed {report['totp']} authenticator apps, {report['webauthn']} security keys "
        f"and passkeys, {report['recovery_codes']} recovery codes; ended {report['sessions']} sessions"
    )


@_command()
def cleanup(
    older_than: Annotated[
        int, typer.Option("--older-than", min=0, metavar="DAYS", help="Days since a session or token died.")
    ] = 30,
    batch_size: Annotated[int, typer.Option(min=100, metavar="ROWS", help="Rows per short transaction.")] = 10_000,
    as_json: AS_JSON = False,
) -> None:
    """Delete long-dead sessions, tokens, emails and second-factor challenges; erase deleted accounts.

    Those that died (expired, ended, sent, abandoned) more than --older-than days ago, and the
    accounts whose deletion grace period (FRONTDESK_ACCOUNT_DELETION_GRACE) is over."""
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
    if as_json:
        _print_json(cliview.cleanup_json(report))
        return
    typer.echo(
        f"deleted {report.sessions} sessions, {report.tokens} tokens, {report.rate_limit_buckets} rate-limit buckets, "
        f"{report.emails} sent or failed emails, {report.challenges} second-factor challenges, "
        f"{report.totp_enrolments} abandoned authenticator-app enrolments, "
        f"{report.sign_in_devices} sign-in devices unused for the new-device window; "
        f"erased {report.erased_accounts} deleted accounts"
    )


@_command("mail-worker")
def mail_worker(
    once: Annotated[bool, typer.Option("--once", help="Send what is due now, then exit.")] = False,
    batch: Annotated[int, typer.Option(min=1, metavar="N", help="Emails claimed per tick.")] = 50,
) -> None:
    """Send queued emails.

    Also runs inside `frontdesk serve`. Several may run at once on PostgreSQL."""
    settings = _settings()
    _check_database(settings)
    try:
        report = run_worker(settings, once=once, batch=batch)
    except UNAVAILABLE as exc:
        _fail(explain(exc, settings.database_url), 2)
    typer.echo(f"sent={report.sent} retried={report.retried} failed={report.failed}")


@_command("mail-status")
def mail_status(as_json: AS_JSON = False) -> None:
    """Show queued emails by state.

    With the age of the oldest pending one."""
    fd = _frontdesk()
    counts = _run(fd, lambda: fd.read(lambda db, deps: outbox_status(db, deps.clock.now())))
    if as_json:
        _print_json(cliview.mail_status_json(counts))
        return
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
