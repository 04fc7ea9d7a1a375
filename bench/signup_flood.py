"""Does a signup flood from one address slow everyone else down? (issue 12 finding 2; contract section 4)

Recreates a PostgreSQL database whose name contains `bench`, creates one account (production
Argon2 parameters), starts `frontdesk serve` on loopback, signs that account in, and measures
`GET /v1/sessions` latency for it: first alone (quiet), then while `--connections` clients post
`POST /v1/signup` from the same address as fast as they can. Bounded: the flood stops after
`--seconds` (at most 60) or `--max-signups` requests, whichever comes first. Prints the p50/p99 of
both phases, their ratio (the issue asks for p99 under 2x quiet) and the signup answers by status.

    .venv/bin/python -m bench.signup_flood --connections 30 --seconds 12
    .venv/bin/python -m bench.signup_flood --signups-per-ip 1000000   # every signup reaches Argon2
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.seed import database_name, migrate, recreate_database
from bench.server import ServerProcess, free_port
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from frontdesk.settings import Settings

DEFAULT_DATABASE = "postgresql://root@127.0.0.1:5432/frontdesk_bench_signup"
PASSWORD = "a long passphrase for measuring"  # noqa: S105 (the bench account's, on a throwaway database)
MAX_SECONDS = 60.0
_counting = threading.Lock()


@dataclass
class Phase:
    latencies_ms: list[float]
    errors: int

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure_sessions(client: httpx.Client, until: float) -> Phase:
    """`GET /v1/sessions` one after another until `until` (a monotonic time)."""
    phase = Phase([], 0)
    while time.monotonic() < until:
        start = time.perf_counter()
        try:
            status = client.get("/v1/sessions").status_code
        except httpx.TransportError:
            status = 0
        phase.latencies_ms.append((time.perf_counter() - start) * 1000)
        if status != 200:
            phase.errors += 1
    return phase


def flood(base_url: str, until: float, budget: threading.Semaphore, statuses: collections.Counter[int]) -> None:
    """One connection posting signups until `until` or until the shared budget is spent."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while time.monotonic() < until and budget.acquire(blocking=False):
            name = f"f{uuid.uuid4().hex[:12]}"
            body = {"email": f"{name}@example.com", "username": name, "password": PASSWORD, "name": "Flood"}
            try:
                status = client.post("/v1/signup", json=body).status_code
            except httpx.TransportError:
                status = 0
            with _counting:
                statuses[status] += 1


def flood_process(
    base_url: str, seconds: float, connections: int, max_signups: int, answers: multiprocessing.Queue[dict[int, int]]
) -> None:
    """The whole flood, in a process of its own: its threads then never share an interpreter lock
    with the measuring client, whose latencies would otherwise include waiting for that lock."""
    statuses: collections.Counter[int] = collections.Counter()
    budget = threading.Semaphore(max_signups)
    until = time.monotonic() + seconds
    flooders = [
        threading.Thread(target=flood, args=(base_url, until, budget, statuses), daemon=True)
        for _ in range(connections)
    ]
    for thread in flooders:
        thread.start()
    for thread in flooders:
        thread.join(timeout=seconds + 60)
    answers.put(dict(statuses))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url", default=DEFAULT_DATABASE, help="dropped and recreated; must name a *bench* db"
    )
    parser.add_argument("--connections", type=int, default=30, help="flooding connections (one address)")
    parser.add_argument("--seconds", type=float, default=12.0, help=f"flood length (at most {MAX_SECONDS:.0f})")
    parser.add_argument("--quiet-seconds", type=float, default=5.0, help="the quiet measurement's length")
    parser.add_argument("--max-signups", type=int, default=20000, help="stop the flood after this many requests")
    parser.add_argument("--signups-per-ip", type=int, default=20, help="FRONTDESK_SIGNUPS_PER_IP for the server")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if "bench" not in database_name(args.database_url):
        sys.exit("refusing a database whose name lacks 'bench' (it is dropped and recreated)")
    seconds = min(max(args.seconds, 1.0), MAX_SECONDS)
    connections = min(max(args.connections, 1), 200)

    recreate_database(args.database_url)
    migrate(args.database_url)
    fd = Frontdesk(Settings(database_url=args.database_url))
    try:
        fd.call(
            create_user, email="b@example.com", username="benchuser", password=PASSWORD, name="B", ctx=RequestContext()
        )
    finally:
        fd.close()

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "FRONTDESK_DATABASE_URL": args.database_url,
        "FRONTDESK_PUBLIC_URL": base_url,
        "FRONTDESK_SIGNUPS_PER_IP": str(args.signups_per_ip),
        "FRONTDESK_EMAILS_PER_IP": "100000000",
    }
    argv = [sys.executable, "-m", "frontdesk.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(args.workers)]
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServerProcess(argv, port=port, log_path=Path(tmp) / "server.log", ready_path="/healthz", env=env),
        httpx.Client(base_url=base_url, timeout=30) as user,
    ):
        signed_in = user.post("/v1/login", json={"user": "benchuser", "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        measure_sessions(user, time.monotonic() + 1.0)  # warm-up
        quiet = measure_sessions(user, time.monotonic() + args.quiet_seconds)

        answers: multiprocessing.Queue[dict[int, int]] = multiprocessing.Queue()
        flooder = multiprocessing.Process(
            target=flood_process, args=(base_url, seconds, connections, args.max_signups, answers), daemon=True
        )
        started = time.monotonic()
        flooder.start()
        until = started + seconds
        time.sleep(min(1.0, seconds / 4))  # let the flood build up
        loaded = measure_sessions(user, until)
        statuses = collections.Counter(answers.get(timeout=seconds + 90))
        flooder.join(timeout=30)
        took = time.monotonic() - started

    q99, f99 = quiet.quantile(0.99), loaded.quantile(0.99)
    print(f"signup flood: {connections} connections, {took:.1f} s, SIGNUPS_PER_IP={args.signups_per_ip}")
    print(f"  signup answers: {dict(sorted(statuses.items()))} ({sum(statuses.values()) / took:.0f}/s)")
    print(
        f"  GET /v1/sessions quiet:  p50 {statistics.median(quiet.latencies_ms):.1f} ms, p99 {q99:.1f} ms "
        f"({len(quiet.latencies_ms)} requests, {quiet.errors} not 200)"
    )
    print(
        f"  GET /v1/sessions flood:  p50 {statistics.median(loaded.latencies_ms):.1f} ms, p99 {f99:.1f} ms "
        f"({len(loaded.latencies_ms)} requests, {loaded.errors} not 200)"
    )
    verdict = "ok" if f99 < 2 * q99 else "OVER 2x"
    print(f"  p99 flood / quiet: {f99 / q99:.2f} {verdict}")


if __name__ == "__main__":
    main()
