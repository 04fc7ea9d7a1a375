"""The `frontdesk` command: in this process through click's runner, and once as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.clock import SystemClock
from frontdesk.models import UserSession
from frontdesk.runtime import Frontdesk
from frontdesk.service.sessions import authenticate
from frontdesk.settings import Settings
from tests.factories import make_session, make_user
from tests.fast import FAST_ENV

COMMANDS = [
    "migrate",
    "serve",
    "create-user",
    "create-api-key",
    "sessions",
    "revoke",
    "ban",
    "unban",
    "cleanup",
    "delete-user",
    "mail-worker",
    "mail-status",
    "reset-second-factors",
]


@pytest.fixture
def clock() -> SystemClock:
    """The CLI runs on the system clock, so the test's own calls do too."""
    return SystemClock()


def cli_env(settings: Settings) -> dict[str, str]:
    env = dict(FAST_ENV)
    env["FRONTDESK_DATABASE_URL"] = settings.database_url
    env["COLUMNS"] = "200"
    return env


def run_process(settings: Settings, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command as a real process, exactly as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(cli_env(settings))
    return subprocess.run(
        [sys.executable, "-m", "frontdesk.cli", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def run(settings: Settings, *args: str, stdin: str = "") -> Outcome:
    """The command in this process (faster; the same code path as the real process)."""
    from typer.testing import CliRunner

    from frontdesk.cli import app

    result = CliRunner().invoke(app, list(args), input=stdin, env=cli_env(settings))
    return Outcome(result.exit_code, result.stdout, result.stderr)


def run_with(database_url: str, *args: str, stdin: str = "") -> Outcome:
    """The command in this process on `database_url` (which may be unusable on purpose)."""
    from typer.testing import CliRunner

    from frontdesk.cli import app

    env = {**cli_env(Settings()), "FRONTDESK_DATABASE_URL": database_url}
    result = CliRunner().invoke(app, list(args), input=stdin, env=env)
    return Outcome(result.exit_code, result.stdout, result.stderr)


# every command, with the arguments it needs to get as far as the database
EVERY_INVOCATION = [
    ["migrate"],
    ["serve", "--port", "1"],
    ["create-user", "someone", "--email", "s@example.com", "--name", "S"],
    ["create-api-key", "someone"],
    ["sessions", "someone"],
    ["revoke", "1"],
    ["ban", "someone"],
    ["unban", "someone"],
    ["cleanup"],
    ["mail-worker", "--once"],
    ["mail-status"],
    ["reset-second-factors", "someone"],
]


def _bad_databases(tmp: str) -> dict[str, tuple[str, str]]:
    """Name -> (URL, what the one line must say)."""
    from sqlalchemy.engine import make_url

    from tests.databases import POSTGRES_URL
    from tests.live import free_port

    missing = make_url(POSTGRES_URL).set(database="does_not_exist").render_as_string(hide_password=False)
    return {
        "missing": (missing, 'database "does_not_exist" does not exist; create it'),
        "unreachable": (f"postgresql://app@127.0.0.1:{free_port()}/app", "Connection refused; nothing answers there"),
        "unsupported": (
            "mysql://app:pw@db/app",
            "FRONTDESK_DATABASE_URL: names 'mysql', a database frontdesk does not",
        ),
        "not a url": ("localhost:5432", "FRONTDESK_DATABASE_URL: is not a database URL"),
        "sqlite folder": (f"sqlite:///{tmp}/no/such/folder.db", "unable to open database file"),
    }


@pytest.mark.parametrize("case", ["missing", "unreachable", "unsupported", "not a url", "sqlite folder"])
def test_an_unusable_database_is_one_line_and_exit_2(case: str, tmp_path: pytest.TempPathFactory) -> None:
    url, says = _bad_databases(str(tmp_path))[case]
    assert run_with(url, "--help").returncode == 0
    for invocation in EVERY_INVOCATION:
        result = run_with(url, *invocation, stdin="a long enough secret\na long enough secret\n")
        assert result.returncode == 2, (invocation, result)
        assert len(result.stderr.splitlines()) == 1 and says in result.stderr, (invocation, result.stderr)
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr + result.stdout
        assert "pw@" not in result.stderr


def test_an_unmigrated_database_says_run_migrate(tmp_path: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    for invocation in EVERY_INVOCATION[1:]:
        result = run_with(url, *invocation, stdin="a long enough secret\na long enough secret\n")
        assert result.returncode == 2, (invocation, result)
        assert (
            result.stderr == f"Error: the database {url} has no frontdesk tables yet; run `frontdesk migrate` first\n"
        )


def test_the_missing_database_of_the_issue_as_a_real_process() -> None:
    """Issue 13: `migrate` on a missing PostgreSQL database printed 142 lines."""
    url, says = _bad_databases("/nonexistent")["missing"]
    result = run_process(Settings(database_url=url), "migrate")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr


def test_every_command_has_help() -> None:
    from typer.testing import CliRunner

    from frontdesk.cli import app

    listed = CliRunner().invoke(app, ["--help"])
    assert listed.exit_code == 0
    for name in COMMANDS:
        assert name in listed.output
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_create_user_prompts_for_password(settings: Settings, fd: Frontdesk) -> None:
    result = run_process(settings, "migrate")
    assert result.returncode == 0, result.stderr
    password = "a long enough secret"
    result = run_process(
        settings,
        "create-user",
        "root_admin",
        "--email",
        "admin@example.com",
        "--name",
        "Admin",
        "--superuser",
        stdin=f"{password}\n{password}\n",
    )
    assert result.returncode == 0, result.stderr
    assert "as superuser" in result.stdout
    assert password not in result.stdout + result.stderr
    from frontdesk.service.context import NO_CONTEXT
    from frontdesk.service.login import login_with_password

    assert fd.call(login_with_password, "root_admin", password, False, NO_CONTEXT).user.is_superuser


def test_create_user_reads_the_password_from_stdin(settings: Settings, fd: Frontdesk) -> None:
    password = "  spaces at both ends are kept  "
    result = run(
        settings,
        "create-user",
        "piped",
        "--email",
        "piped@example.com",
        "--name",
        "Piped",
        "--password-stdin",
        stdin=f"{password}\nignored second line\n",
    )
    assert result.returncode == 0, result.stderr
    assert password.strip() not in result.stdout + result.stderr and "Password" not in result.stdout
    from frontdesk.service.context import NO_CONTEXT
    from frontdesk.service.login import login_with_password

    assert fd.call(login_with_password, "piped", password, False, NO_CONTEXT).user.username == "piped"


def test_create_user_takes_no_password_argument(settings: Settings) -> None:
    refused = run(settings, "create-user", "u1", "--email", "u1@example.com", "--name", "U", "--password", "x" * 12)
    assert refused.returncode == 2 and "No such option" in refused.stderr
    empty = run(settings, "create-user", "u1", "--email", "u1@example.com", "--name", "U", "--password-stdin")
    assert empty.returncode == 2 and "stdin is empty" in empty.stderr


def test_create_user_prompt_hides_and_confirms(settings: Settings) -> None:
    mismatch = run_process(
        settings, "create-user", "u2", "--email", "u2@example.com", "--name", "U", stdin="first secret!\nother one!!\n"
    )
    assert mismatch.returncode != 0 and "do not match" in mismatch.stdout + mismatch.stderr
    assert "first secret!" not in mismatch.stdout + mismatch.stderr  # hidden input is not echoed


def test_create_user_refuses_a_weak_password(settings: Settings) -> None:
    result = run(
        settings, "create-user", "weak", "--email", "w@example.com", "--name", "W", stdin="password\npassword\n"
    )
    assert result.returncode == 1
    assert "common" in result.stderr


def test_api_key_sessions_revoke_ban(settings: Settings, fd: Frontdesk) -> None:
    user = make_user(fd, username="cliuser")
    result = run(settings, "create-api-key", "cliuser", "--days", "7", "--name", "deploy")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("fdk_")
    principal = fd.read(authenticate, key, is_api_key=True)
    assert principal is not None and principal.user_id == user.id

    listing = run(settings, "sessions", "cliuser")
    assert listing.returncode == 0 and "deploy" in listing.stdout and str(principal.session_id) in listing.stdout

    assert run(settings, "revoke", str(principal.session_id)).returncode == 0
    assert fd.read(authenticate, key, is_api_key=True) is None

    second = run(settings, "create-api-key", "cliuser").stdout.strip()
    assert run(settings, "ban", "cliuser").returncode == 0
    assert fd.read(authenticate, second, is_api_key=True) is None
    assert run(settings, "unban", "CLIUSER").returncode == 0
    assert fd.read(authenticate, second, is_api_key=True) is None  # a ban ends every key for good
    missing = run(settings, "revoke", "999999999")
    assert missing.returncode == 1 and "No such session" in missing.stderr


def test_unknown_user_is_a_clear_error(settings: Settings) -> None:
    result = run(settings, "ban", "nobody_here")
    assert result.returncode == 1 and "No such user" in result.stderr


@pytest.mark.parametrize("batch", ["100", "10000"])
def test_cleanup_deletes_only_long_dead_sessions(settings: Settings, fd: Frontdesk, batch: str) -> None:
    user = make_user(fd)
    live_long = make_session(fd, user, long_lived=True)
    dead = [make_session(fd, user, long_lived=False) for _ in range(3)]  # will die of idleness
    expired = make_session(fd, user, long_lived=True, ttl=timedelta(days=1))
    # the CLI runs on the real clock: move the test data into the past instead of the clock forward
    with fd.factory.begin() as db:
        for s in db.query(UserSession):
            shift = timedelta(days=100)
            s.created -= shift
            s.last_seen -= shift
            s.expiry -= shift if s.id != live_long.session.id else timedelta(0)
    result = run(settings, "cleanup", "--older-than", "30", "--batch-size", batch)
    assert result.returncode == 0, result.stderr
    assert "deleted 4 sessions" in result.stdout
    with fd.factory() as db:
        remaining = {s.id for s in db.query(UserSession)}
    assert remaining == {live_long.session.id}
    assert expired.session.id not in remaining and all(d.session.id not in remaining for d in dead)


def test_mail_status(settings: Settings) -> None:
    result = run(settings, "mail-status")
    assert result.returncode == 0, result.stderr
    assert "pending" in result.stdout


def test_version() -> None:
    from importlib.metadata import version

    result = run_with("sqlite://", "--version")
    assert result.returncode == 0 and result.stdout == f"frontdesk {version('frontdesk')}\n"


def test_help_uses_click_conventions() -> None:
    for args in (["create-user", "--help"], ["sessions", "--help"], ["mail-worker", "--help"], ["--help"]):
        text = run_with("sqlite://", *args).stdout
        assert "<bool>" not in text and "<str>" not in text and "{" not in text, text
    assert "Usage: root create-user [OPTIONS] USERNAME" in run_with("sqlite://", "create-user", "--help").stdout
    assert "  --superuser " in run_with("sqlite://", "create-user", "--help").stdout


def test_migrate_says_what_it_applied(tmp_path: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path}/new.db"
    first = run_with(url, "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied ") and "0001_initial  initial schema" in first.stdout
    assert "up to date" not in first.stdout
    again = run_with(url, "migrate")
    assert again.stdout.startswith("database is up to date (revision ") and "nothing to apply" in again.stdout
    shape = json.loads(run_with(url, "migrate", "--json").stdout)
    assert shape["applied"] == [] and shape["current"] == again.stdout.split("revision ")[1].split(")")[0]


def test_sessions_readable_at_80_columns_and_as_json(settings: Settings, fd: Frontdesk) -> None:
    user = make_user(fd, username="wide")
    browser = make_session(fd, user, long_lived=True)
    assert run(settings, "create-api-key", "wide", "--name", "deploy").returncode == 0
    from typer.testing import CliRunner

    from frontdesk.cli import app

    narrow = CliRunner().invoke(app, ["sessions", "wide"], env={**cli_env(settings), "COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.stderr
    assert all(len(line) <= 80 for line in narrow.stdout.splitlines()), narrow.stdout
    assert f"session {browser.session.id}: remembered browser" in narrow.stdout
    assert "API key 'deploy'" in narrow.stdout and "  expires    " in narrow.stdout

    shape = json.loads(run(settings, "sessions", "wide", "--json").stdout)
    assert shape["user"] == {"id": user.id, "username": "wide"}
    assert [s["kind"] for s in shape["sessions"]] == ["api_key", "remembered"]
    assert set(shape["sessions"][0]) == {
        "id", "kind", "name", "created", "expiry", "last_seen", "api_calls", "long_lived", "is_api_key",
        "ip_address", "user_agent", "browser", "operating_system", "device",
    }  # fmt: skip
    assert shape["sessions"][0]["name"] == "deploy" and shape["sessions"][0]["expiry"].endswith("Z")


def test_json_of_the_other_commands(settings: Settings, fd: Frontdesk) -> None:
    made = run(
        settings, "create-user", "jay", "--email", "jay@example.com", "--name", "J", "--password-stdin", "--json",
        stdin="a long enough secret\n",
    )  # fmt: skip
    user = json.loads(made.stdout)
    assert user == {"id": user["id"], "username": "jay", "email": "jay@example.com", "is_superuser": False}
    key = json.loads(run(settings, "create-api-key", "jay", "--days", "3", "--json").stdout)
    assert set(key) == {"id", "user_id", "name", "token", "expiry"} and key["token"].startswith("fdk_")
    status = json.loads(run(settings, "mail-status", "--json").stdout)
    assert set(status) == {"pending", "due", "sent", "failed", "oldest_pending_seconds"}
    cleaned = json.loads(run(settings, "cleanup", "--json").stdout)
    assert cleaned == {
        "sessions": 0,
        "tokens": 0,
        "rate_limit_buckets": 0,
        "emails": 0,
        "challenges": 0,
        "totp_enrolments": 0,
        "erased_accounts": 0,
        "sign_in_devices": 0,
    }


def test_an_api_key_without_days_lives_the_configured_default(settings: Settings, fd: Frontdesk) -> None:
    from typer.testing import CliRunner

    from frontdesk.cli import app

    make_user(fd, username="defaultdays")
    env = {**cli_env(settings), "FRONTDESK_API_KEY_DEFAULT_DAYS": "30"}
    result = CliRunner().invoke(app, ["create-api-key", "defaultdays"], env=env)
    assert result.exit_code == 0, result.stderr
    principal = fd.read(authenticate, result.stdout.strip(), is_api_key=True)
    assert principal is not None
    assert abs(principal.expiry - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=1)


def test_delete_user_with_a_grace_or_at_once(settings: Settings, fd: Frontdesk) -> None:
    from frontdesk.models import User

    later = make_user(fd, username="leaving")
    session = make_session(fd, later)
    result = run(settings, "delete-user", "leaving")
    assert result.returncode == 0 and "erased after" in result.stdout, result.stderr
    assert fd.read(authenticate, session.token, is_api_key=False) is None
    again = run(settings, "delete-user", "leaving")
    assert again.returncode == 1 and "No such user" in again.stderr
    gone = make_user(fd, username="gone_now")
    result = run(settings, "delete-user", "gone_now", "--now")
    assert result.returncode == 0 and "erased" in result.stdout, result.stderr
    with fd.factory() as db:
        row = db.get(User, gone.id)
        assert row is not None and row.erased_at is not None and row.email == "" and row.username == "gone_now"
        kept = db.get(User, later.id)
        assert kept is not None and kept.is_deleted and kept.erased_at is None


def test_reset_second_factors(settings: Settings, fd: Frontdesk) -> None:
    import pyotp

    from frontdesk.service.context import NO_CONTEXT
    from frontdesk.service.factors import overview
    from frontdesk.service.totp import begin_totp_enrolment, confirm_totp
    from tests.mailbox import outbox

    user = make_user(fd, username="lostphone")
    secret = fd.call(begin_totp_enrolment, user.id, NO_CONTEXT).secret
    fd.call(confirm_totp, user.id, pyotp.TOTP(secret).now(), NO_CONTEXT)
    session = make_session(fd, user)
    result = run(settings, "reset-second-factors", "LostPhone")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "lostphone: removed 1 authenticator apps, 0 security keys and passkeys, 10 recovery codes; ended 1 sessions\n"
    )
    found = fd.read(overview, user.id)
    assert (found.totp, found.webauthn, found.recovery_codes_left) == (False, [], 0)
    assert fd.read(authenticate, session.token, is_api_key=False) is None
    assert [e.to_address for e in outbox(fd, "second_factors_reset")] == [user.email]
    again = json.loads(run(settings, "reset-second-factors", str(user.id), "--json").stdout)
    assert again == {
        "user_id": user.id,
        "username": "lostphone",
        "totp": 0,
        "webauthn": 0,
        "recovery_codes": 0,
        "sessions": 0,
    }
    missing = run(settings, "reset-second-factors", "nobody_here")
    assert missing.returncode == 1 and "No such user" in missing.stderr
    assert len(outbox(fd, "second_factors_reset")) == 2
