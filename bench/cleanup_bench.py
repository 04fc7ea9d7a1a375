"""`frontdesk cleanup` on 1,000,000 expired sessions in PostgreSQL, with validation running beside it.

    .venv/bin/python -m bench.cleanup_bench [--rows 1000000]

Seeds the dead sessions with one INSERT … SELECT generate_series, keeps a few live ones, then runs
the real `frontdesk cleanup` command while a thread validates a live session in a loop, and reports
how long cleanup took and the slowest validation seen meanwhile (a lock that blocked validation
would show as a validation as slow as a whole batch, or as cleanup itself).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from frontdesk.clock import SystemClock
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import NO_CONTEXT
from frontdesk.service.sessions import authenticate, issue_session
from frontdesk.settings import Settings

ADMIN_URL = "postgresql://root@127.0.0.1:5432/postgres"
DB_URL = "postgresql://root@127.0.0.1:5432/frontdesk_bench_cleanup"
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    subprocess.run(
        ["psql", ADMIN_URL, "-qc", "DROP DATABASE IF EXISTS frontdesk_bench_cleanup WITH (FORCE)"], check=True
    )
    subprocess.run(["psql", ADMIN_URL, "-qc", "CREATE DATABASE frontdesk_bench_cleanup"], check=True)
    settings = Settings(
        database_url=DB_URL, argon2_time_cost=1, argon2_memory_cost_kib=64, db_statement_timeout=timedelta(minutes=10)
    )
    fd = Frontdesk(settings, clock=SystemClock())
    fd.migrate()
    user = fd.call(
        create_user, email="c@example.com", username="cleanup", password="long enough pass", name="C", ctx=NO_CONTEXT
    )
    live = [fd.call(issue_session, user, NO_CONTEXT, long_lived=True) for _ in range(5)]
    started = time.perf_counter()
    with fd.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sessions"
                " (token_hash, user_id, is_api_key, long_lived, created, expiry, last_seen, api_calls) "
                "SELECT sha256(g::text::bytea), :uid, false, true, now() - interval '900 days', "
                "now() - interval '100 days', now() - interval '100 days', 0 FROM generate_series(1, :rows) g"
            ),
            {"uid": user.id, "rows": args.rows},
        )
        conn.execute(text("ANALYZE sessions"))
    seeded = time.perf_counter() - started

    latencies: list[float] = []
    stop = threading.Event()

    def validate() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            assert fd.read(authenticate, live[0].token, is_api_key=False) is not None
            latencies.append(time.perf_counter() - t0)

    env = dict(os.environ, FRONTDESK_DATABASE_URL=DB_URL)
    checker = threading.Thread(target=validate)
    checker.start()
    t0 = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "frontdesk.cli", "cleanup", "--older-than", "30"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    took = time.perf_counter() - t0
    stop.set()
    checker.join()
    with fd.engine.connect() as conn:
        remaining = conn.execute(text("SELECT count(*) FROM sessions")).scalar_one()
    fd.close()
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "seed_seconds": round(seeded, 1),
        "cleanup_seconds": round(took, 1),
        "cleanup_output": result.stdout.strip(),
        "sessions_left": remaining,
        "validations_during_cleanup": len(latencies),
        "validation_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "validation_max_ms": round(max(latencies) * 1000, 2),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cleanup.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
