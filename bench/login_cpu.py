"""What one password login costs frontdesk in CPU, Argon2 left out, and how many SQL statements it runs.

N sequential successful logins through the service layer (`Frontdesk.call(login_with_password, ...)`,
the edge's own transaction), on SQLite (a temporary file) and on PostgreSQL (a throwaway database
`frontdesk_bench_login_<hex>` on `--postgres-url`'s server, dropped afterwards), with the tests'
cheap Argon2 (t=1, 64 KiB, p=1; as `tests/fast.py`). Each login comes from one address and sends the
device cookie the previous one returned, as a browser that signs in again would.

It reports CPU time, not wall time (the machine is shared): the process's CPU per login minus the
CPU the Argon2 verifications themselves took (measured inside the hashing thread), the main thread's
CPU per login (the hashing threads excluded by construction), PostgreSQL's backend CPU per login,
and the statements, commits and pool checkouts per login. Each backend runs `--rounds` rounds of
`--logins` logins after a warm-up, and the lowest round counts (noise only ever adds CPU).

    .venv/bin/python -m bench.login_cpu                      # both backends, 3 rounds of 300 logins
    .venv/bin/python -m bench.login_cpu --backends sqlite --profile   # plus a cProfile of one round
    .venv/bin/python -m bench.login_cpu --against main --rounds 5     # before (main) and after (this tree)

`--against REV` measures two versions in one sitting: REV's `src/` (from `git archive`) and this
tree's, each round a fresh process per version and backend, alternating which goes first, so
the machine's noise falls on both alike.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import os
import pstats
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bench.server import process_tree
from frontdesk.crypto import Argon2Parameters, PasswordHasher
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from frontdesk.service.login import login_with_password
from frontdesk.settings import Settings

PASSWORD = "correct horse battery staple"  # noqa: S105 (the bench user's, in a throwaway database)
FAST_ARGON2 = Argon2Parameters(time_cost=1, memory_cost_kib=64, parallelism=1)
SECRET = "bench-login-cpu-" + "x" * 32
MAX_LOGINS = 100_000  # a bound on any one round, whatever the flags say
CALL_COUNT_LOGINS = 20  # logins run under cProfile to count Python calls


class TimedHasher(PasswordHasher):
    """The real hasher, timing each verification's CPU in the thread that runs it."""

    def __init__(self) -> None:
        super().__init__(FAST_ARGON2)
        self.cpu_s = 0.0
        self.checks = 0
        self._lock = threading.Lock()

    def _verify(self, hashed: str, password: str) -> bool:
        start = time.thread_time()
        try:
            return super()._verify(hashed, password)
        finally:
            spent = time.thread_time() - start
            with self._lock:
                self.cpu_s += spent
                self.checks += 1


@dataclasses.dataclass
class Counts:
    statements: Counter[str] = dataclasses.field(default_factory=Counter)
    commits: int = 0
    checkouts: int = 0

    def listen(self, fd: Frontdesk) -> None:
        def on_statement(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
            words = statement.split(None, 2)
            verb = words[0].upper() if words else "?"
            if verb == "INSERT" and "ON CONFLICT" in statement.upper():
                verb = "UPSERT"
            self.statements[verb] += 1

        def on_commit(_conn: Any) -> None:
            self.commits += 1

        def on_checkout(*_args: Any) -> None:
            self.checkouts += 1

        event.listen(fd.engine, "before_cursor_execute", on_statement)
        event.listen(fd.engine, "commit", on_commit)
        event.listen(fd.engine.pool, "checkout", on_checkout)

    def reset(self) -> None:
        self.statements.clear()
        self.commits = 0
        self.checkouts = 0


@dataclasses.dataclass(frozen=True)
class Round:
    logins: int
    process_cpu_ms: float  # per login, Argon2's own CPU subtracted
    main_thread_cpu_ms: float  # per login
    argon2_cpu_ms: float  # per login
    database_cpu_ms: float | None  # PostgreSQL backends, per login
    statements: dict[str, float]  # per login, by verb
    commits: float
    checkouts: float
    python_calls: float = 0.0  # Python function calls per login (cProfile's count): noise-free


_TICK = float(os.sysconf("SC_CLK_TCK"))


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


class Backends:
    """The PostgreSQL backends serving the bench database (their CPU is the database's share)."""

    def __init__(self, admin_url: str, database: str) -> None:
        self.admin_url = admin_url
        self.database = database

    def cpu_s(self) -> dict[int, float]:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)).fetchall()
        return {int(pid): _proc_cpu_s(int(pid)) for (pid,) in rows}


def _one_round(fd: Frontdesk, hasher: TimedHasher, counts: Counts, logins: int, backends: Backends | None) -> Round:
    ctx = RequestContext(ip_address="198.51.100.7", user_agent="bench/login_cpu")
    device = fd.call(login_with_password, "bench", PASSWORD, False, ctx).device
    counts.reset()
    argon_before = hasher.cpu_s
    db_before = backends.cpu_s() if backends else {}
    process_before, thread_before = time.process_time(), time.thread_time()
    for _ in range(min(logins, MAX_LOGINS)):
        result = fd.call(login_with_password, "bench", PASSWORD, False, dataclasses.replace(ctx, device=device))
        device = result.device
    process_s, thread_s = time.process_time() - process_before, time.thread_time() - thread_before
    argon_s = hasher.cpu_s - argon_before
    database_ms: float | None = None
    if backends:
        after = backends.cpu_s()
        database_ms = sum(after[pid] - db_before.get(pid, 0.0) for pid in after) * 1000 / logins
    return Round(
        logins=logins,
        process_cpu_ms=(process_s - argon_s) * 1000 / logins,
        main_thread_cpu_ms=thread_s * 1000 / logins,
        argon2_cpu_ms=argon_s * 1000 / logins,
        database_cpu_ms=database_ms,
        statements={verb: n / logins for verb, n in sorted(counts.statements.items())},
        commits=counts.commits / logins,
        checkouts=counts.checkouts / logins,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree_cpu_s(pid: int) -> float:
    return sum(_proc_cpu_s(p) for p in process_tree(pid))


def _http_round(
    base: str, server: subprocess.Popen[bytes], logins: int, argon2_ms: float, backends: Backends | None
) -> Round:
    """`logins` sequential `POST /v1/login` against the server, each sending the device cookie the
    previous one set (and no session cookie); the server's CPU, Argon2 subtracted as measured here."""
    with httpx.Client(base_url=base, timeout=30, headers={"Origin": base}) as client:

        def login(device: str | None) -> str | None:
            client.cookies.clear()
            headers = {"Cookie": f"frontdesk-device={device}"} if device else {}
            body = {"user": "bench", "password": PASSWORD, "remember_device": False}
            response = client.post("/v1/login", json=body, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"login answered {response.status_code}: {response.text}")
            for cookie in response.headers.get_list("set-cookie"):
                if cookie.startswith("frontdesk-device="):
                    return cookie.split(";", 1)[0].split("=", 1)[1]
            return device

        device = login(None)
        db_before = backends.cpu_s() if backends else {}
        before = _tree_cpu_s(server.pid)
        for _ in range(min(logins, MAX_LOGINS)):
            device = login(device)
        spent_ms = (_tree_cpu_s(server.pid) - before) * 1000 / logins
    database_ms: float | None = None
    if backends:
        after = backends.cpu_s()
        database_ms = sum(after[pid] - db_before.get(pid, 0.0) for pid in after) * 1000 / logins
    return Round(logins, spent_ms - argon2_ms, 0.0, argon2_ms, database_ms, {}, 0.0, 0.0)


def _argon2_ms(hasher: TimedHasher, hashed: str) -> float:
    """The CPU of one verification at the bench's parameters, measured in this process."""
    before, checks = hasher.cpu_s, hasher.checks
    for _ in range(50):
        hasher.verify(hashed, PASSWORD)
    return (hasher.cpu_s - before) * 1000 / (hasher.checks - checks)


def _serve(url: str, settings: Settings) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update(
        {
            "FRONTDESK_DATABASE_URL": url,
            "FRONTDESK_PUBLIC_URL": base,
            "FRONTDESK_SECRET": SECRET,
            "FRONTDESK_ARGON2_TIME_COST": str(settings.argon2_time_cost),
            "FRONTDESK_ARGON2_MEMORY_COST_KIB": str(settings.argon2_memory_cost_kib),
            "FRONTDESK_ARGON2_PARALLELISM": str(settings.argon2_parallelism),
        }
    )
    command = [sys.executable, "-m", "frontdesk.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return base, server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("frontdesk serve did not start in 60 s")


@contextmanager
def _database(backend: str, postgres_url: str) -> Iterator[tuple[str, Backends | None]]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'frontdesk.db'}", None
        return
    name = f"frontdesk_bench_login_{uuid.uuid4().hex[:10]}"
    admin = make_url(postgres_url).set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        yield url, Backends(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_backend(backend: str, args: argparse.Namespace) -> list[Round]:
    with _database(backend, args.postgres_url) as (url, backends):
        settings = Settings(
            database_url=url,
            secret=SECRET,
            argon2_time_cost=FAST_ARGON2.time_cost,
            argon2_memory_cost_kib=FAST_ARGON2.memory_cost_kib,
            argon2_parallelism=FAST_ARGON2.parallelism,
        )
        fd = Frontdesk(settings)
        try:
            fd.migrate()
            hasher = TimedHasher()
            fd.deps = dataclasses.replace(fd.deps, hasher=hasher)
            ctx = RequestContext(ip_address="198.51.100.7", user_agent="bench/login_cpu")
            user = fd.call(
                create_user, email="bench@example.com", username="bench", password=PASSWORD, name="Bench", ctx=ctx
            )
            if args.http:
                argon2_ms = _argon2_ms(hasher, user.hashed_password or "")
                base, server = _serve(url, settings)
                try:
                    _http_round(base, server, args.warmup, argon2_ms, None)
                    return [_http_round(base, server, args.logins, argon2_ms, backends) for _ in range(args.rounds)]
                finally:
                    server.terminate()
                    server.wait(30)
            counts = Counts()
            counts.listen(fd)
            _one_round(fd, hasher, counts, args.warmup, backends)
            rounds = [_one_round(fd, hasher, counts, args.logins, backends) for _ in range(args.rounds)]
            counter = cProfile.Profile()
            counter.enable()
            _one_round(fd, hasher, counts, CALL_COUNT_LOGINS, None)
            counter.disable()
            calls = getattr(pstats.Stats(counter), "total_calls", 0) / CALL_COUNT_LOGINS  # untyped in typeshed
            rounds = [dataclasses.replace(r, python_calls=calls) for r in rounds]
            if args.profile:
                profiler = cProfile.Profile(time.thread_time)  # CPU time, not wall time
                profiler.enable()
                _one_round(fd, hasher, counts, args.logins, None)
                profiler.disable()
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats("cumulative").print_stats(45)
                stats.sort_stats("tottime").print_stats(25)
                print(f"--- cProfile of {args.logins} logins on {backend} (main thread only) ---")
                print(out.getvalue())
            return rounds
        finally:
            fd.close()


_MARK = "login_cpu.round "
ROOT = Path(__file__).resolve().parent.parent


def _child(label: str, src: Path, backend: str, args: argparse.Namespace) -> Round:
    """One round in a fresh process that imports frontdesk from `src`."""
    command = [sys.executable, "-m", "bench.login_cpu", "--child", "--backends", backend]
    command += ["--logins", str(args.logins), "--warmup", str(args.warmup), "--postgres-url", args.postgres_url]
    command += ["--http"] if args.http else []
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_MARK)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{label} on {backend} failed:\n{done.stdout}\n{done.stderr}")
    return Round(**json.loads(lines[-1][len(_MARK) :]))


def _compare(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", "--format=tar", args.against, "src"], cwd=ROOT, capture_output=True)
        if archive.returncode != 0:
            raise SystemExit(f"git archive {args.against}: {archive.stderr.decode()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        versions = {f"before ({args.against})": Path(tmp) / "src", "after (this tree)": ROOT / "src"}
        results: dict[tuple[str, str], list[Round]] = {}
        for n in range(args.rounds):
            for backend in args.backends.split(","):
                order = list(versions.items())
                for label, src in order if n % 2 == 0 else reversed(order):
                    measured = _child(label, src, backend, args)
                    results.setdefault((label, backend), []).append(measured)
                    print(
                        f"round {n + 1}/{args.rounds} {backend} {label}: {measured.process_cpu_ms:.2f} ms", flush=True
                    )
        for (label, backend), rounds in sorted(results.items(), key=lambda item: (item[0][1], item[0][0])):
            _report(f"{backend}, {label}", rounds)


def _report(backend: str, rounds: list[Round]) -> None:
    best = min(rounds, key=lambda r: r.process_cpu_ms)
    spread = ", ".join(f"{r.process_cpu_ms:.2f}" for r in rounds)
    db = f"{best.database_cpu_ms:.2f} ms" if best.database_cpu_ms is not None else "n/a"
    statements = sum(best.statements.values())
    verbs = " ".join(f"{verb} {n:g}" for verb, n in best.statements.items())
    head = (
        f"{backend}: {best.process_cpu_ms:.2f} ms CPU per login without Argon2 (rounds: {spread}; "
        f"median {statistics.median(r.process_cpu_ms for r in rounds):.2f}); "
    )
    if not best.statements:  # --http: the server's processes, seen from outside
        print(f"{head}Argon2 {best.argon2_cpu_ms:.2f} ms (measured here); database {db}")
        return
    print(
        f"{head}main thread {best.main_thread_cpu_ms:.2f} ms; Argon2 {best.argon2_cpu_ms:.2f} ms; database {db}\n"
        f"  {statements:g} statements per login ({verbs}); {best.commits:g} commits; "
        f"{best.checkouts:g} pool checkouts; {best.python_calls:,.0f} Python calls"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--logins", type=int, default=300, help="logins per measured round")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per backend; the lowest counts")
    parser.add_argument("--warmup", type=int, default=50, help="logins before the first round")
    parser.add_argument("--postgres-url", default="postgresql://root@127.0.0.1:5432/postgres")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one more round")
    parser.add_argument("--against", metavar="REV", help="also measure REV's src/ (before) beside this tree's (after)")
    parser.add_argument("--http", action="store_true", help="log in with POST /v1/login against a loopback server")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 < args.logins <= MAX_LOGINS or not 0 < args.rounds <= 20 or not 0 < args.warmup <= MAX_LOGINS:
        parser.error(f"--logins and --warmup must be 1..{MAX_LOGINS}, --rounds 1..20")
    if args.against:
        _compare(args)
        return
    if args.child:
        (only,) = run_backend(args.backends, argparse.Namespace(**{**vars(args), "rounds": 1}))
        print(_MARK + json.dumps(dataclasses.asdict(only)))
        return
    results = {backend: run_backend(backend, args) for backend in args.backends.split(",")}
    for backend, rounds in results.items():
        _report(backend, rounds)


if __name__ == "__main__":
    main()
