"""`make mutation`: cosmic-ray on each rule module, with the tests that cover it, one worker.

For each module group below (smallest first) it writes a cosmic-ray configuration and session in
build/mutation/, runs every mutant against the group's tests, and writes the score and every
surviving mutant (its diff) to build/mutation/<group>.txt; docs/mutation-report.md gets the summary.
Mutants listed in EQUIVALENT (tests/mutation/equivalent.py) change no behaviour and are not counted.

    python -m tests.mutation.run                 # every group
    python -m tests.mutation.run crypto nextpath  # some groups (their names below)
    python -m tests.mutation.run --retest login   # only the survivors of the last run, again
    python -m tests.mutation.run --report         # re-summarise the sessions there are

cosmic-ray mutates the source file in place and puts it back after each mutant: run it on a clean
tree, and `git diff --exit-code src` afterwards if a run was interrupted.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import os
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db  # type: ignore[import-untyped]
from cosmic_ray.work_item import WorkerOutcome, WorkResult  # type: ignore[import-untyped]

from tests.mutation.equivalent import EQUIVALENT

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "mutation"
REPORT = ROOT / "docs" / "mutation-report.md"
# no third-party pytest plugins but the timeout: each mutant pays pytest's start-up again, and on a
# shared machine that start-up is most of the cost (hence also the fork server)
PYTEST_ARGS = "-x -q -p no:cacheprovider -p pytest_timeout -o addopts= --timeout=120"
SQLITE_ONLY = "not postgresql"
FORKSERVER = ROOT / "tests" / "mutation" / "forkserver.py"
CLIENT = ROOT / "tests" / "mutation" / "client.py"
SKIPPED = "not run: in a type annotation (never evaluated)"
MUTANT_TIMEOUT = 240.0  # seconds per mutant's test run (a hang counts as killed)


@dataclass(frozen=True)
class Group:
    """Modules mutated together, the tests run against each mutant, and which of their database
    variants run (a pytest `-k` expression; empty for all): SQLite only, unless the module has
    PostgreSQL-only code."""

    name: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]
    keyword: str = SQLITE_ONLY

    def pytest_args(self) -> str:
        return f'{PYTEST_ARGS} -k \\"{self.keyword}\\"' if self.keyword else PYTEST_ARGS


# smallest first, so a short budget covers the most modules
S, W, T = "src/frontdesk/service/", "src/frontdesk/web/", "tests/service/"
GROUPS = (
    Group("reset", (S + "reset.py",), (T + "test_reset.py",)),
    Group("csrf", (W + "pages/csrf.py",), ("tests/web/pages/test_csrf.py", "tests/web/pages/test_forms.py")),
    Group(
        "login",
        (S + "login.py",),
        (T + "test_login.py", T + "test_sign_in_codes.py", T + "test_ratelimit.py", T + "test_passwordless.py"),
    ),
    Group("links", (S + "links.py",), (T + "test_passwordless.py", T + "test_sign_in_codes.py", T + "test_reset.py")),
    Group("recovery", (S + "recovery.py",), (T + "test_recovery.py", T + "test_factor_events.py")),
    Group("totp", (S + "totp.py",), (T + "test_totp.py", T + "test_factor_events.py")),
    Group("nextpath", (W + "pages/nextpath.py",), ("tests/web/pages/test_nextpath.py",)),
    Group("ratelimit", (S + "ratelimit.py",), (T + "test_ratelimit_windows.py", T + "test_ratelimit.py")),
    Group("second_factor", (S + "second_factor.py",), (T + "test_second_factor.py",)),
    Group(
        "crypto",
        ("src/frontdesk/crypto.py",),
        (
            "tests/test_crypto.py",
            "tests/test_crypto_queue.py",
            "tests/web/test_authn.py::test_a_bearer_token_is_read_strictly",  # MAX_TOKEN_LENGTH, where it is used
        ),
    ),
    # the unit tests of reading a request (no live server: each mutant would pay a server start-up)
    Group(
        "credentials",
        (W + "credentials.py", W + "authn.py"),
        (
            "tests/web/test_credentials.py",
            *(
                "tests/web/test_authn.py::" + name
                for name in (
                    "test_every_cookie_header_is_read",
                    "test_pages_read_cookies_only",
                    "test_the_csrf_check_sees_a_session_cookie_in_any_header",
                    "test_the_refusal_says_which_case_it_is",
                    "test_a_bearer_token_is_read_strictly",
                    "test_cookie_values_at_and_over_the_length_limit_and_empty",
                    "test_a_credential_says_its_kind_and_hides_its_token",
                    "test_only_cookie_headers_carry_session_cookies",
                    "test_the_same_authorization_header_twice_is_read_once",
                    "test_two_session_cookies_are_refused_in_either_order_and_lookalikes_are_no_cookie",
                    "test_identify_looks_up_the_session_of_the_kind_presented",
                    "test_the_fast_path_reads_alike_and_needs_its_async_lookup",
                )
            ),
            "tests/web/test_proxy.py::test_requests_from_a_private_address_without_trusted_proxies_warn_once",
            "tests/web/test_proxy.py::test_forwarded_for_entries_parse_to_their_address",
        ),
    ),
    # session validity: the rule in Python and SQL (models), and the queries that use it (store)
    Group(
        "session",
        ("src/frontdesk/models/session.py",),
        (
            "tests/models/test_validity.py",
            "tests/test_migrations.py::test_autogenerate_finds_no_difference_after_migrating",
            T + "test_sessions.py",
        ),
    ),
    Group(
        "session_store",
        ("src/frontdesk/store/sessions.py",),
        (
            T + "test_sessions.py",
            "tests/models/test_validity.py",
            "tests/test_cli.py::test_cleanup_deletes_only_long_dead_sessions",
            *(
                "tests/service/test_fast_path.py::" + name
                for name in (
                    "test_batched_checks_agree_with_the_orm_path",
                    "test_a_revocation_or_ban_is_seen_by_the_very_next_check",
                    "test_every_use_is_recorded_once_per_check",
                )
            ),
        ),
        # the batch lookup and the touch writer have PostgreSQL branches of their own: the tests that
        # reach them also run on PostgreSQL (the rest on SQLite only, at half the cost)
        keyword="not postgresql or test_fast_path or touch or every_use",
    ),
)


def _config(group: Group) -> Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    path = BUILD / f"{group.name}.toml"
    modules = ", ".join(f'"{m}"' for m in group.modules)
    path.write_text(
        "[cosmic-ray]\n"
        f"module-path = [{modules}]\n"
        f"timeout = {MUTANT_TIMEOUT}\n"
        "excluded-modules = []\n"
        f'test-command = "{_client(group)} {group.pytest_args()} {" ".join(group.tests)}"\n'
        '\n[cosmic-ray.distributor]\nname = "local"\n'
    )
    return path


def _socket(group: Group) -> Path:
    return BUILD / f"{group.name}.sock"


def _client(group: Group) -> str:
    return f"env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -S {CLIENT} {_socket(group)}"


@contextlib.contextmanager
def fork_server(group: Group) -> Iterator[None]:
    """The group's fork server (tests/mutation/forkserver.py) while its mutants run; it must pass
    the unmutated tests first, through the same client cosmic-ray uses."""
    sock = _socket(group)
    BUILD.mkdir(parents=True, exist_ok=True)
    sock.unlink(missing_ok=True)
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    server = subprocess.Popen(
        # the server ends a hung run before cosmic-ray would kill its client: the next mutant's run then
        # never waits behind it (a hang is a kill either way)
        [sys.executable, str(FORKSERVER), str(sock), str(MUTANT_TIMEOUT - 40)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        if not server.stdout.readline().startswith(b"fork server ready"):
            raise RuntimeError("the fork server did not start")
        check = subprocess.run(
            shlex.split(f"{_client(group)} {group.pytest_args()}".replace("\\", "")) + list(group.tests), cwd=ROOT
        )
        if check.returncode != 0:
            raise RuntimeError(f"the unmutated tests fail through the fork server ({check.returncode})")
        yield
    finally:
        server.terminate()
        server.wait(30)
        sock.unlink(missing_ok=True)


def run(group: Group) -> str:
    """Mutate and test one group; its summary line."""
    config = _config(group)
    session = BUILD / f"{group.name}.sqlite"
    session.unlink(missing_ok=True)
    started = time.monotonic()
    pytest = f"env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {sys.executable} -m pytest {group.pytest_args()}"
    command = shlex.split(pytest.replace("\\", "")) + list(group.tests)
    baseline = subprocess.run(command, cwd=ROOT, check=False)
    if baseline.returncode != 0:
        return f"| {group.name} | {', '.join(group.modules)} | baseline tests failed: not run | | | | | | |"
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", "init", str(config), str(session)], check=True, cwd=ROOT)
    skip_annotations(session)
    with fork_server(group):
        subprocess.run(
            [sys.executable, "-m", "cosmic_ray.cli", "exec", str(config), str(session)], check=True, cwd=ROOT
        )
    _add_minutes(group, started, replace=True)
    return summarise(group)


def retest(group: Group) -> str:
    """Run the surviving mutants of a finished session again, against the group's tests as they
    are now (after tests were added to kill them); killed and equivalent ones are not re-run."""
    session = BUILD / f"{group.name}.sqlite"
    started = time.monotonic()
    config = _config(group)
    with sqlite3.connect(session) as conn:
        rows = conn.execute(
            "SELECT r.job_id, m.module_path, m.operator_name, m.occurrence, m.start_pos_row, m.start_pos_col, r.diff "
            "FROM work_results r JOIN mutation_specs m ON m.job_id = r.job_id WHERE r.test_outcome = 'SURVIVED'"
        ).fetchall()
        again = [
            job
            for job, module, operator, occurrence, row, col, diff in rows
            if (Path(module).as_posix(), operator, occurrence) not in EQUIVALENT
            and not equivalent_by_shape(diff or "")
            and not in_annotation(module, (row, col))
        ]
        conn.executemany("DELETE FROM work_results WHERE job_id = ?", [(job,) for job in again])
    skip_annotations(session)
    print(f"{group.name}: re-running {len(again)} surviving mutants (and any not run yet)", flush=True)
    with fork_server(group):
        subprocess.run(
            [sys.executable, "-m", "cosmic_ray.cli", "exec", str(config), str(session)], check=True, cwd=ROOT
        )
    _add_minutes(group, started, replace=False)
    return summarise(group)


def skip_annotations(session: Path) -> None:
    """Mark the mutants inside type annotations as skipped (not run): equivalent by construction
    (see `in_annotation`), and in a typed code base a large share of all mutants."""
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            mutation = item.mutations[0]
            if in_annotation(str(mutation.module_path), mutation.start_pos):
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=SKIPPED))


def _add_minutes(group: Group, started: float, *, replace: bool) -> None:
    """The group's time so far (a re-run of its survivors adds to it)."""
    timing = BUILD / f"{group.name}.minutes"
    before = 0.0 if replace or not timing.exists() else float(timing.read_text())
    timing.write_text(f"{before + (time.monotonic() - started) / 60:.0f}")


def summarise(group: Group) -> str:
    """The group's row from its session (a partial one too, if a run was stopped); its survivors
    (with diffs) go to build/mutation/<group>.txt."""
    session = BUILD / f"{group.name}.sqlite"
    timing = BUILD / f"{group.name}.minutes"
    minutes = f"{timing.read_text()} min" if timing.exists() else "stopped"
    killed, survivors, equivalent, incompetent, skipped = 0, [], 0, 0, 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        total = db.num_work_items
        for item, result in db.completed_work_items:
            mutation = item.mutations[0]
            key = (Path(mutation.module_path).as_posix(), mutation.operator_name, mutation.occurrence)
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                equivalent += 1
                skipped += 1
            elif result.test_outcome == "incompetent":
                incompetent += 1
            elif result.is_killed:
                killed += 1
            elif (
                key in EQUIVALENT
                or equivalent_by_shape(result.diff or "")
                or in_annotation(mutation.module_path, mutation.start_pos)
            ):
                equivalent += 1
            else:
                survivors.append(f"## {key[0]} {key[1]} #{key[2]} line {mutation.start_pos[0]}\n{result.diff}\n")
    counted = killed + len(survivors)
    score = 100.0 * killed / counted if counted else 100.0
    done = counted + equivalent + incompetent
    commands = BUILD / f"{group.name}.commands"
    runs = " then ".join(f"`{c}`" for c in commands.read_text().splitlines()) if commands.exists() else ""
    line = (
        f"| {group.name} | {', '.join(group.modules)} | {done} of {total} | {killed} | {len(survivors)} "
        f"| {equivalent} | {score:.1f} % | {minutes} | {runs} |"
    )
    (BUILD / f"{group.name}.txt").write_text(
        f"{line}\nincompetent (did not import): {incompetent}\n"
        f"equivalent, of which not run because they lie in a type annotation: {skipped}\n\n" + "\n".join(survivors)
    )
    return line


def in_annotation(module_path: str, position: tuple[int, int]) -> bool:
    """Whether the mutated node lies in a type annotation of a module with `from __future__ import
    annotations`: such annotations are strings, never evaluated, so `str | None` turned into
    `str + None` (and the like) changes nothing. (Where a framework does evaluate one, SQLAlchemy's
    `Mapped[...]`, pydantic, FastAPI, the mutant raises at import and is killed, never seen here.)"""
    return any(start <= tuple(position) < end for start, end in _annotation_spans(module_path))


@functools.cache
def _annotation_spans(module_path: str) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
    tree = ast.parse((ROOT / module_path).read_text())
    future = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(a.name == "annotations" for a in node.names)
        for node in tree.body
    )
    if not future:
        return ()
    annotations: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotations.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
    return tuple(((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0)) for a in annotations)


def equivalent_by_shape(diff: str) -> bool:
    """A signature's keyword-only marker `*` turned into the positional-only `/`: every caller passes
    the parameters before it by position and those after it by name, so every call binds alike."""
    removed = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    if len(removed) != 1 or len(added) != 1:
        return False
    if removed[0].strip() == "*," and added[0].strip() == "/,":
        return True
    return ", *," in removed[0] and removed[0].replace(", *,", ", /,") == added[0]


def main(names: list[str]) -> None:
    """Run the named groups (all without names); `--report` only summarises the sessions there are."""
    report_only = "--report" in names
    again = "--retest" in names
    names = [n for n in names if n not in ("--report", "--retest")]
    chosen = [g for g in GROUPS if not names or g.name in names]
    rows = _rows()
    for group in chosen:
        if report_only and not (BUILD / f"{group.name}.sqlite").exists():
            continue
        if again and not (BUILD / f"{group.name}.sqlite").exists():
            continue
        if not report_only:
            _record_command(group, again=again)
        rows[group.name] = summarise(group) if report_only else retest(group) if again else run(group)
        print(rows[group.name], flush=True)
        _write(rows)


def _record_command(group: Group, *, again: bool) -> None:
    """The commands that made the group's session, in order (a new run starts the list again)."""
    commands = BUILD / f"{group.name}.commands"
    BUILD.mkdir(parents=True, exist_ok=True)
    if again:
        before = commands.read_text() if commands.exists() else ""
        commands.write_text(f"{before}python -m tests.mutation.run --retest {group.name}\n")
    else:
        commands.write_text(f"make mutation GROUPS={group.name}\n")


def _rows() -> dict[str, str]:
    """The report's rows so far, by group (a run of some groups keeps the others')."""
    if not REPORT.exists():
        return {}
    names = {g.name for g in GROUPS}
    found = {}
    for line in REPORT.read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 2 and cells[1] in names:
            found[cells[1]] = line
    return found


def _write(rows: dict[str, str]) -> None:
    header = (
        "| group | modules | mutants tested | killed | survived | equivalent | score | time | commands |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    ordered = [rows[g.name] for g in GROUPS if g.name in rows]
    REPORT.write_text(
        "# Mutation report\n\nWritten by `make mutation` (tests/mutation/run.py: cosmic-ray, one worker). "
        "The surviving mutants, with their diffs, are in build/mutation/<group>.txt; the equivalent ones "
        "are listed with their reasons in docs/testing.md.\n\n" + header + "\n".join(ordered) + "\n"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
