"""Faults: the database goes away and comes back, a worker is killed, the server is stopped.

These tests start their own throwaway PostgreSQL cluster (initdb + pg_ctl on a free loopback
port, in a temporary directory; never the machine's shared server) so they can stop it at will,
and a frontdesk server on it. Loads are a few threads for a few seconds.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select, text

from frontdesk.crypto import digest
from frontdesk.db import make_engine
from frontdesk.migrate import upgrade
from frontdesk.models import AuthEvent, LoginToken, OutboxEmail, UserSession
from frontdesk.settings import Settings
from tests.live import LiveServer, free_port
from tests.reliability.conftest import count_rows, log_in_fresh, new_account, serve
from tests.waiting import wait_until
from tests.web.helpers import PASSWORD

pytestmark = [pytest.mark.slow]

STATEMENT_TIMEOUT = 3  # seconds, FRONTDESK_DB_STATEMENT_TIMEOUT for the servers here
CONNECT_TIMEOUT = 5  # seconds, fixed in frontdesk.db
OUTAGE = 3.0  # seconds PostgreSQL stays down
RECOVERY = 5.0  # seconds after PostgreSQL is back by which everything must work again


def _pg_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class Cluster:
    """A private PostgreSQL cluster: its own data directory, port and socket directory."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="frontdesk-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/frontdesk"
        # initdb refuses to run as root: run the server binaries as the `postgres` OS user
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def create(self) -> None:
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 100\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        self.start()
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE frontdesk"))
        admin.dispose()
        engine = make_engine(Settings(database_url=self.url))
        upgrade(engine)
        engine.dispose()

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start a private PostgreSQL")
    pg = Cluster(bin_dir)
    try:
        pg.create()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def engine(cluster: Cluster) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=cluster.url))
    yield engine
    engine.dispose()


def api_calls(engine: Engine, token: str) -> int:
    with engine.connect() as conn:
        value = conn.scalar(select(UserSession.api_calls).where(UserSession.token_hash == digest(token)))
    return int(value or 0)


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Outcome:
    op: str
    sent: float  # time.monotonic() when sent
    took: float  # seconds
    status: int  # 0 for a transport error
    detail: object = None


@dataclass
class Load:
    """Threads repeating operations until stopped, recording every outcome."""

    server: LiveServer
    ops: dict[str, Callable[[httpx.Client], tuple[int, object]]]
    threads_per_op: int = 1
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(name, op), daemon=True)
            for name, op in self.ops.items()
            for _ in range(self.threads_per_op)
        ]

    def _run(self, name: str, op: Callable[[httpx.Client], tuple[int, object]]) -> None:
        client = self.server.client()
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                status, detail = op(client)
            except httpx.TransportError as exc:
                status, detail = 0, type(exc).__name__
                client.close()
                client = self.server.client()
            with self._lock:
                self.outcomes.append(Outcome(name, sent, time.monotonic() - sent, status, detail))
            time.sleep(0.02)
        client.close()

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def succeeded_ops(self, since: float) -> set[str]:
        """The operations that got a 2xx for a request sent after `since`."""
        with self._lock:
            return {o.op for o in self.outcomes if o.sent > since and o.status in (200, 202)}

    def answered_ops(self, since: float) -> set[str]:
        """The operations that got any answer for a request sent after `since`."""
        with self._lock:
            return {o.op for o in self.outcomes if o.sent > since}

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if start <= o.sent and o.sent + o.took <= end]


def test_database_outage_gives_503_then_recovers_with_nothing_lost(cluster: Cluster, engine: Engine) -> None:
    server = serve(cluster.url, cluster.root, env={"FRONTDESK_DB_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT)})
    try:
        new_account(server, "alice")
        watched = log_in_fresh(server, "alice")  # used only by the verify load: its api_calls are counted

        def verify(client: httpx.Client) -> tuple[int, object]:
            return client.get("/v1/verify", headers={"Cookie": f"frontdesk-session={watched}"}).status_code, None

        def login(client: httpx.Client) -> tuple[int, object]:
            client.cookies.clear()
            response = client.post("/v1/login", json={"user": "alice", "password": PASSWORD})
            return response.status_code, response.json()["session"]["id"] if response.status_code == 200 else None

        def login_link(client: httpx.Client) -> tuple[int, object]:
            return client.post("/v1/login-link", json={"user": "alice"}).status_code, None

        def health(client: httpx.Client) -> tuple[int, object]:
            return client.get("/healthz").status_code, None

        load = Load(server, {"verify": verify, "login": login, "login_link": login_link, "health": health})
        with load:
            assert wait_until(lambda: load.succeeded_ops(0) == set(load.ops), 15)
            cluster.stop("fast")
            down = time.monotonic()
            time.sleep(OUTAGE)  # the outage's length, not a wait
            up_started = time.monotonic()
            cluster.start()
            up = time.monotonic()
            assert wait_until(lambda: load.answered_ops(up + RECOVERY + 0.5) == set(load.ops), RECOVERY + 15)
        outcomes = load.outcomes

        # never a 500, never a hang longer than the configured timeouts
        unexpected = sorted({(o.op, o.status) for o in outcomes if o.status not in (200, 202, 503)})
        log = server.log()
        at = log.find("Exception in ASGI application")
        assert not unexpected, (unexpected, log[at : at + 6000] if at >= 0 else log[-3000:])
        slowest = max(o.took for o in outcomes)
        assert slowest < CONNECT_TIMEOUT + STATEMENT_TIMEOUT, slowest
        # during the outage: 503 for everything that needs the database
        during = load.between(down + 0.5, up_started)
        assert during and {o.status for o in during} == {503}, sorted({(o.op, o.status) for o in during})
        assert {o.op for o in during} == set(load.ops)
        # within RECOVERY seconds of PostgreSQL answering again, everything works
        after = [o for o in outcomes if o.sent >= up + RECOVERY]
        assert after and all(o.status in (200, 202) for o in after), [(o.op, o.status) for o in after if o.status]
        first_ok = min((o.sent + o.took for o in outcomes if o.sent >= up and o.status in (200, 202)), default=None)
        assert first_ok is not None
        print(
            f"\noutage {up_started - down:.1f}s; {len(during)} requests answered 503 in it, slowest {slowest:.2f}s; "
            f"first success {first_ok - up:.2f}s after PostgreSQL was back"
        )

        # nothing that was acknowledged is lost: every session a login returned exists and works...
        issued = [int(str(o.detail)) for o in outcomes if o.op == "login" and o.status == 200]
        with engine.connect() as conn:
            stored = set(conn.scalars(select(UserSession.id).where(UserSession.id.in_(issued))))
        assert stored == set(issued)
        assert count_rows(
            engine, AuthEvent, AuthEvent.event == "login.succeeded", AuthEvent.session_id.in_(issued)
        ) == len(issued)
        # ...every accepted login-link request left its token, its audit event and its queued email...
        links = sum(o.op == "login_link" and o.status == 202 for o in outcomes)
        assert count_rows(engine, LoginToken) == links
        assert count_rows(engine, AuthEvent, AuthEvent.event == "login_link.sent") == links
        assert count_rows(engine, OutboxEmail, OutboxEmail.kind == "login_link") == links
        # ...and every successful verification was counted, outage or not (touches are retried)
        verified = sum(o.op == "verify" and o.status == 200 for o in outcomes)

        def calls() -> int:
            return api_calls(engine, watched)

        assert wait_until(lambda: calls() == verified, timeout=3), (calls(), verified)
        # no request may have crashed; the outage is logged once, then its end, without tracebacks
        log = server.log()
        assert "Exception in ASGI application" not in log, log[-3000:]
        assert log.count("database unavailable (") == 1, log[-3000:]
        assert "database available again after" in log, log[-3000:]
        assert "Traceback" not in log and "tick_failed" not in log, log[-3000:]
    finally:
        server.stop()


def workers_of(server: LiveServer) -> list[int]:
    """The pids of the uvicorn worker processes under a `frontdesk serve --workers N`."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_kill_9_of_one_worker_under_load_leaves_the_others_serving(cluster: Cluster) -> None:
    server = serve(cluster.url, cluster.root, workers=2)
    try:
        new_account(server, "bob")
        token = log_in_fresh(server, "bob")

        def verify(client: httpx.Client) -> tuple[int, object]:
            return client.get("/v1/verify", headers={"Cookie": f"frontdesk-session={token}"}).status_code, None

        def login(client: httpx.Client) -> tuple[int, object]:
            client.cookies.clear()
            return client.post("/v1/login", json={"user": "bob", "password": PASSWORD}).status_code, None

        assert wait_until(lambda: len(workers_of(server)) == 2, timeout=10)
        victim, survivor = workers_of(server)
        load = Load(server, {"verify": verify, "login": login}, threads_per_op=3)
        with load:
            assert wait_until(lambda: load.succeeded_ops(0) == set(load.ops), 15)
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            assert wait_until(lambda: sum(o.sent >= killed + 0.5 for o in load.outcomes) >= 40, 15)
        outcomes = load.outcomes
        assert {o.status for o in outcomes} <= {0, 200}, sorted({(o.op, o.status) for o in outcomes})
        # a connection that was open to the killed worker fails once; its thread reconnects
        failures = [o for o in outcomes if o.status == 0]
        assert len(failures) <= len(load._threads), failures
        after = [o for o in outcomes if o.sent >= killed + 0.5]
        assert len(after) >= 20 and all(o.status == 200 for o in after), [o for o in after if o.status != 200]
        assert survivor in workers_of(server)
        # uvicorn's supervisor replaces the dead worker
        assert wait_until(lambda: len(workers_of(server)) == 2, timeout=15)
        print(
            f"\nkill -9: {len(failures)} requests failed on connections to the killed worker, "
            f"{len(after)} succeeded after it"
        )
    finally:
        server.stop()


def test_sigterm_writes_every_pending_touch(cluster: Cluster, engine: Engine) -> None:
    """With the flusher effectively off (1 h interval), every use still reaches the database:
    SIGTERM makes each worker write its pending last_seen/api_calls before it exits."""
    server = serve(cluster.url, cluster.root, workers=2, env={"FRONTDESK_TOUCH_FLUSH_INTERVAL": "3600"})
    stopped = False
    try:
        new_account(server, "carol")
        tokens = [log_in_fresh(server, "carol") for _ in range(3)]
        sent: dict[str, int] = dict.fromkeys(tokens, 0)
        for round_ in range(60):
            for token in tokens:
                # a new connection each time, so the uses spread over both workers
                response = httpx.get(
                    f"{server.url}/v1/verify", headers={"Cookie": f"frontdesk-session={token}"}, timeout=10
                )
                assert response.status_code == 200
                sent[token] += 1
            if round_ == 0:
                before = {t: api_calls(engine, t) for t in tokens}
        assert all(before[t] == 0 for t in tokens), before  # nothing written yet: all pending
        assert server.stop() == 0
        stopped = True
        written = {t: api_calls(engine, t) for t in tokens}
        assert written == sent
        assert "touch.flush_failed" not in server.log() and "database unavailable" not in server.log()
    finally:
        if not stopped:
            server.stop()
