"""Command-line flags of `python -m bench` (`make bench BENCH_ARGS="..."`)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "postgresql://root@127.0.0.1:5432/frontdesk_bench"
RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("argon2", "ceiling", "pgbench", "verify", "login", "totp", "soak")


@dataclass(frozen=True, slots=True)
class BenchConfig:
    quick: bool
    duration_s: int  # of each measured load run
    warmup_s: int
    sessions: tuple[int, ...]
    workers: tuple[int, ...]
    connections_per_worker: int
    login_connections_per_worker: int
    pgbench_s: int
    argon2_s: int
    soak_requests: int
    soak_max_s: int
    token_sample: int
    quiet_wait_s: int
    repeat: int  # attempts per measured run; the quietest one counts
    database_url: str
    results_dir: Path
    skip: frozenset[str]

    def users_for(self, sessions: int) -> int:
        return max(1_000, sessions // 10)

    def connections(self, workers: int) -> int:
        return self.connections_per_worker * workers

    @property
    def primary_sessions(self) -> int:
        """The size the headline, login and soak figures are taken at: the largest up to 1,000,000."""
        upto = [m for m in self.sessions if m <= 1_000_000]
        return max(upto) if upto else min(self.sessions)

    def runs(self, part: str) -> bool:
        return part not in self.skip


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v.replace("_", "")) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parse(argv: list[str] | None = None) -> BenchConfig:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="frontdesk benchmark: verify vs a bare Starlette ceiling, pgbench, scale, logins, memory.",
    )
    p.add_argument("--quick", action="store_true", help="a ~2-minute smoke run (10k sessions, 1 worker, short runs)")
    p.add_argument("--duration", type=int, help="seconds of each measured load run (default 30, quick 5)")
    p.add_argument("--sessions", type=_ints, help="session counts to seed (default 10000,1000000; quick 10000)")
    p.add_argument("--ten-million", action="store_true", help="also run with 10,000,000 sessions (slow)")
    p.add_argument("--workers", type=_ints, help="server worker processes (default 1,2; quick 1)")
    p.add_argument("--connections", type=int, default=32, help="load connections per worker (default 32)")
    p.add_argument("--login-connections", type=int, default=4, help="login load connections per worker (default 4)")
    p.add_argument("--pgbench-seconds", type=int, help="seconds of each pgbench run (default 15, quick 5)")
    p.add_argument("--argon2-seconds", type=int, help="seconds of each raw Argon2id run (default 10, quick 4)")
    p.add_argument("--soak-requests", type=int, help="verifies before the memory reading (default 1000000)")
    p.add_argument("--soak-max-seconds", type=int, help="time bound of the soak (default 900, quick 30)")
    p.add_argument("--token-sample", type=int, default=20_000, help="distinct tokens the load cycles through")
    p.add_argument("--quiet-wait", type=int, help="max seconds to wait for a quiet machine before each run")
    p.add_argument("--repeat", type=int, default=1, help="attempts per load run; the quietest counts (default 1)")
    p.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="dropped and recreated; must contain 'bench'")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument("--report", metavar="FILE", help="only recompute and print the figures of a results file")
    p.add_argument("--skip", default="", help=f"comma-separated parts to skip: {','.join(PARTS)}")
    a = p.parse_args(argv)
    skip = frozenset(s.strip() for s in a.skip.split(",") if s.strip())
    if skip - set(PARTS):
        p.error(f"unknown --skip part(s): {','.join(sorted(skip - set(PARTS)))}")
    quick = bool(a.quick)
    sessions = a.sessions or ((10_000,) if quick else (10_000, 1_000_000))
    if a.ten_million and 10_000_000 not in sessions:
        sessions = (*sessions, 10_000_000)
    return BenchConfig(
        quick=quick,
        duration_s=a.duration or (5 if quick else 30),
        warmup_s=2 if quick else 5,
        sessions=tuple(sessions),
        workers=a.workers or ((1,) if quick else (1, 2)),
        connections_per_worker=a.connections,
        login_connections_per_worker=a.login_connections,
        pgbench_s=a.pgbench_seconds or (5 if quick else 15),
        argon2_s=a.argon2_seconds or (4 if quick else 10),
        soak_requests=a.soak_requests if a.soak_requests is not None else (50_000 if quick else 1_000_000),
        soak_max_s=a.soak_max_seconds or (30 if quick else 900),
        token_sample=a.token_sample,
        quiet_wait_s=a.quiet_wait if a.quiet_wait is not None else (5 if quick else 60),
        repeat=max(1, a.repeat),
        database_url=a.database_url,
        results_dir=a.results_dir,
        skip=skip,
    )
