"""The benchmark plan: what runs in which order, and where each figure lands in the results document."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console

from bench import argon, pgbench, targets, totp_logins
from bench.config import BenchConfig
from bench.cpu import set_database, wait_until_quiet
from bench.load import LoadResult, LoadSpec, measure_together
from bench.seed import BENCH_PASSWORD, SeedPlan, SeedResult, seed, vacuum_analyze
from bench.server import ServerFailed, ServerProcess, free_port
from bench.tools import Pinning, cpu_model, ensure_wrk, tool_version

Doc = dict[str, Any]  # the results document, written as JSON
MB = 1024 * 1024
TOTP_USERS = 1_000  # users with an authenticator app in the `totp` part: each signs in once per 30 s step


def _rps(result: Doc | None) -> str:
    return f"{result['rps']:.2f}" if isinstance(result, dict) and "rps" in result else "(not measured)"


def memory_summary(server: ServerProcess) -> Doc:
    procs = server.memory()
    return {
        "rss_max_process_mb": round(max((p.rss_bytes for p in procs), default=0) / MB, 1),
        "rss_total_mb": round(sum(p.rss_bytes for p in procs) / MB, 1),
        "pss_total_mb": round(sum(p.pss_bytes or 0 for p in procs) / MB, 1),
        "processes": [{"pid": p.pid, "rss_mb": round(p.rss_bytes / MB, 1), "command": p.command} for p in procs],
    }


class Bench:
    def __init__(self, cfg: BenchConfig, console: Console) -> None:
        self.cfg, self.console = cfg, console
        self.workdir = cfg.results_dir / "tmp"
        self.log: list[str] = []
        self.wrk: str | None = None
        self.frontdesk_missing: str | None = None
        self.doc: Doc = {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in asdict(cfg).items()},
            "environment": {},
            "argon2": {},
            "ceiling": {},
            "seeding": {},
            "pgbench": {},
            "frontdesk": {"status": "unknown", "verify": {}, "login": {}, "soak": {}},
            "log": self.log,
        }
        self.doc["config"]["results_dir"] = str(cfg.results_dir)

    # -- helpers ------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.console.print(f"[bold cyan]bench[/] {text}")

    def note(self, text: str) -> None:
        self.log.append(text)
        self.console.print(f"[yellow]bench: {text}[/]")

    def server(self, target: targets.Target, label: str, port: int) -> ServerProcess:
        return ServerProcess(
            target.argv,
            port=port,
            log_path=self.workdir / f"server-{label}.log",
            ready_path=target.ready_path,
            env=target.env,
            cwd=targets.REPO,
        )

    def verify_spec(self, port: int, workers: int, token_file: Path, seconds: int, *, check: bool = True) -> LoadSpec:
        pin = Pinning.for_workers(workers)
        return LoadSpec(
            url=f"http://127.0.0.1:{port}/v1/verify",
            script="verify",
            data_file=token_file,
            connections=self.cfg.connections(workers),
            threads=len(pin.load),
            duration_s=seconds,
            cpus=pin.load,
            check_status=check,
        )

    def login_spec(self, port: int, workers: int, login_file: Path, seconds: int) -> LoadSpec:
        pin = Pinning.for_workers(workers)
        return LoadSpec(
            url=f"http://127.0.0.1:{port}/v1/login",
            script="login",
            data_file=login_file,
            connections=self.cfg.login_connections_per_worker * workers,
            threads=1,
            duration_s=seconds,
            cpus=pin.load,
            password=BENCH_PASSWORD,
        )

    def measure(self, specs: list[LoadSpec], server: ServerProcess, *, warmup: bool = True) -> list[LoadResult]:
        """Warm up briefly, wait (bounded) for a quiet machine, then run the loads together."""
        if warmup and self.cfg.warmup_s > 0:
            warm = [replace(s, duration_s=self.cfg.warmup_s) for s in specs]
            measure_together(warm, self.wrk, targets.REPO, server.pid)
        attempts: list[list[LoadResult]] = []
        for _ in range(self.cfg.repeat):
            before = wait_until_quiet(self.cfg.quiet_wait_s)
            results = measure_together(specs, self.wrk, targets.REPO, server.pid)
            for r in results:
                r.cpu["foreign_share_before"] = round(before, 3)
            attempts.append(results)
        best = min(attempts, key=lambda rs: rs[0].cpu.get("foreign_share", 0.0))
        if self.cfg.repeat > 1:
            for i, r in enumerate(best):
                r.attempts = [
                    {"rps": a[i].rps, "p99_ms": a[i].latency_ms["p99"], "foreign_share": a[i].cpu.get("foreign_share")}
                    for a in attempts
                ]
        share = best[0].cpu.get("foreign_share", 0.0)
        if share > 0.15:
            self.note(f"noisy run: other processes used {share:.0%} of the CPUs while {specs[0].url} was measured")
        return best

    def brief(self, r: LoadResult) -> str:
        bad = "" if r.unexpected_status in (None, 0) else f", {r.unexpected_status} unexpected status"
        err = f", {r.socket_errors} socket errors" if r.socket_errors else ""
        lat = r.latency_ms
        return f"{r.rps:,.0f} req/s, p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms{bad}{err}"

    # -- phases -------------------------------------------------------------------------------

    def environment(self) -> None:
        set_database(self.cfg.database_url.rsplit("/", 1)[1].split("?", 1)[0])
        env: Doc = {
            "cpu_model": cpu_model(),
            "cpus": os.cpu_count(),
            "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
            "python": platform.python_version(),
            "wrk": tool_version([self.wrk, "--version"]) if self.wrk else None,
            "load_generator": "wrk" if self.wrk else "python-asyncio (wrk unavailable)",
            "pgbench": tool_version(["pgbench", "--version"]),
        }
        try:
            env["git_commit"] = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=targets.REPO, check=False
            ).stdout.strip()
        except OSError:
            env["git_commit"] = None
        from bench.seed import admin_url

        with psycopg.connect(admin_url(self.cfg.database_url)) as conn:
            env["postgres"] = str((conn.execute("SELECT version()").fetchone() or ("?",))[0])
            for name in ("shared_buffers", "max_connections", "synchronous_commit", "work_mem", "jit"):
                env[f"pg_{name}"] = str((conn.execute(f"SHOW {name}").fetchone() or ("?",))[0])
        self.doc["environment"] = env

    def argon2(self) -> None:
        params = argon.Argon2Params.production()
        self.say(f"raw Argon2id at {params} over {os.cpu_count()} processes, {self.cfg.argon2_s} s per mode")
        before = wait_until_quiet(self.cfg.quiet_wait_s)
        a = self.doc["argon2"] = argon.throughput(params, self.cfg.argon2_s) | {
            "foreign_share_before": round(before, 3)
        }
        self.say(
            f"  {a['hash_per_s']} hashes/s, {a['verify_per_s']} verifies/s;"
            f" capacity {a['hash_capacity_per_s']} hashes/s ({a['hash_ms_cpu_each']} ms CPU each)"
        )

    def seed(self, sessions: int) -> SeedResult:
        users = self.cfg.users_for(sessions)
        self.say(f"seeding {sessions:,} sessions for {users:,} users into {self.cfg.database_url}")
        plan = SeedPlan(sessions=sessions, users=users, token_sample=self.cfg.token_sample)
        wait_until_quiet(self.cfg.quiet_wait_s)
        result = seed(self.cfg.database_url, plan, self.workdir)
        per_m = result.per_million_sessions
        self.say(
            f"  {result.seconds_total:.1f} s (COPY {result.seconds_copy:.1f} s, indexes {result.seconds_indexes:.1f} s,"
            f" vacuum {result.seconds_vacuum:.1f} s); per million sessions: table"
            f" {per_m['sessions_table'] / MB:.0f} MB, indexes {per_m['sessions_indexes'] / MB:.0f} MB"
        )
        self.doc["seeding"][str(sessions)] = asdict(result)
        return result

    def pgbench(self, seeded: SeedResult) -> None:
        scripts = pgbench.scripts(self.workdir, seeded.bench_tokens, seeded.touch_max_id)
        out: Doc = {f"{name}_script": path.read_text() for name, path in scripts.items()}
        for name in ("verify", "verify_store", "verify_batch", "touch"):
            if name not in scripts:
                continue
            wait_until_quiet(self.cfg.quiet_wait_s)
            out[name] = pgbench.run(self.cfg.database_url, scripts[name], seconds=self.cfg.pgbench_s)
            if name == "verify_batch" and "tps" in out[name]:
                out[name]["checks_per_s"] = round(float(out[name]["tps"]) * pgbench.BATCH, 1)
            self.say(f"  pgbench {name}: {out[name].get('tps', out[name].get('error'))} tps")
        vacuum_analyze(self.cfg.database_url)  # the touches leave dead rows behind
        self.doc["pgbench"][str(seeded.sessions)] = out

    def ceiling(self, token_file: Path) -> None:
        for workers in self.cfg.workers:
            pin = Pinning.for_workers(workers)
            port = free_port()
            self.say(f"ceiling: Starlette hello-world, {workers} worker(s), {pin.describe()}")
            with self.server(targets.ceiling(port, workers, pin.server), f"ceiling-{workers}", port) as srv:
                spec = self.verify_spec(port, workers, token_file, self.cfg.duration_s, check=False)
                (result,) = self.measure([spec], srv)
                self.doc["ceiling"][str(workers)] = {
                    "workers": workers,
                    "pinning": pin.describe(),
                    "load": result.as_dict(),
                    "memory": memory_summary(srv),
                }
            self.say(f"  {self.brief(result)}")

    def verify(self, seeded: SeedResult) -> None:
        per_size: Doc = self.doc["frontdesk"]["verify"].setdefault(str(seeded.sessions), {})
        for workers in self.cfg.workers:
            pin = Pinning.for_workers(workers)
            port = free_port()
            self.say(f"frontdesk verify: {seeded.sessions:,} sessions, {workers} worker(s), {pin.describe()}")
            target = targets.frontdesk(port, workers, pin.server, self.cfg.database_url)
            try:
                with self.server(target, f"frontdesk-{seeded.sessions}-{workers}", port) as srv:
                    spec = self.verify_spec(port, workers, Path(seeded.token_file), self.cfg.duration_s)
                    (result,) = self.measure([spec], srv)
                    per_size[str(workers)] = {
                        "workers": workers,
                        "pinning": pin.describe(),
                        "load": result.as_dict(),
                        "memory": memory_summary(srv),
                    }
                self.say(f"  {self.brief(result)}")
            except ServerFailed as exc:
                per_size[str(workers)] = {"error": str(exc)}
                self.note(f"frontdesk server failed ({workers} workers): {exc}")

    def login(self, seeded: SeedResult) -> None:
        out: Doc = self.doc["frontdesk"]["login"]
        login_file, token_file = Path(seeded.login_file), Path(seeded.token_file)
        for workers in self.cfg.workers:
            pin = Pinning.for_workers(workers)
            port = free_port()
            self.say(f"frontdesk login: {workers} worker(s), {self.cfg.login_connections_per_worker * workers} conns")
            target = targets.frontdesk(port, workers, pin.server, self.cfg.database_url)
            try:
                with self.server(target, f"frontdesk-login-{workers}", port) as srv:
                    (logins,) = self.measure([self.login_spec(port, workers, login_file, self.cfg.duration_s)], srv)
                    entry: Doc = {"workers": workers, "login_alone": logins.as_dict()}
                    self.say(f"  {logins.rps:.2f} logins/s alone, p99 {logins.latency_ms['p99']} ms")
                    if workers == min(self.cfg.workers):
                        verify = self.verify_spec(port, workers, token_file, self.cfg.duration_s)
                        login = self.login_spec(port, workers, login_file, self.cfg.duration_s)
                        (alone,) = self.measure([verify], srv)
                        beside, logins_beside = self.measure([verify, login], srv, warmup=False)
                        entry |= {
                            "verify_alone": alone.as_dict(),
                            "verify_beside_logins": beside.as_dict(),
                            "login_beside_verify": logins_beside.as_dict(),
                        }
                        self.say(
                            f"  verify p99 {alone.latency_ms['p99']} ms alone,"
                            f" {beside.latency_ms['p99']} ms beside {logins_beside.rps:.2f} logins/s"
                        )
                    entry["memory"] = memory_summary(srv)
                    out[str(workers)] = entry
            except ServerFailed as exc:
                out[str(workers)] = {"error": str(exc)}
                self.note(f"frontdesk server failed (login, {workers} workers): {exc}")

    def login_totp_spec(self, port: int, workers: int, users_file: Path, seconds: int) -> LoadSpec:
        pin = Pinning.for_workers(workers)
        return LoadSpec(
            url=f"http://127.0.0.1:{port}",
            script="login_totp",
            data_file=users_file,
            connections=self.cfg.login_connections_per_worker * workers,
            threads=1,
            duration_s=seconds,
            cpus=pin.load,
            password=BENCH_PASSWORD,
            database_url=self.cfg.database_url,
        )

    def login_totp(self, seeded: SeedResult) -> None:
        """Sign-ins with an authenticator-app second step, beside the password-only ones of `login`.

        TOTP_USERS of the login users get an app for this part only; each signs in at most once
        per 30-second step (bench/mfaload.py), and their used steps are moved aside before each run.
        """
        names = Path(seeded.login_file).read_text().split()[:TOTP_USERS]
        users_file = self.workdir / f"totp-users-{seeded.sessions}.txt"
        self.say(f"frontdesk login with a TOTP second step: enrolling {len(names)} users")
        try:
            totp_logins.enrol(self.cfg.database_url, names, users_file)
            for workers in self.cfg.workers:
                pin = Pinning.for_workers(workers)
                port = free_port()
                out: Doc = self.doc["frontdesk"]["login"].setdefault(str(workers), {"workers": workers})
                target = targets.frontdesk(port, workers, pin.server, self.cfg.database_url)
                try:
                    with self.server(target, f"frontdesk-login-totp-{workers}", port) as srv:
                        spec = self.login_totp_spec(port, workers, users_file, self.cfg.duration_s)
                        (logins,) = self.measure([spec], srv)
                        out["login_totp"] = logins.as_dict()
                        password = _rps(out.get("login_alone"))
                        self.say(
                            f"  {workers} worker(s): {logins.rps:.2f} logins/s with a TOTP second step"
                            f" (p99 {logins.latency_ms['p99']} ms), beside {password} password-only logins/s"
                        )
                except ServerFailed as exc:
                    out["login_totp"] = {"error": str(exc)}
                    self.note(f"frontdesk server failed (login with TOTP, {workers} workers): {exc}")
        finally:
            totp_logins.remove(self.cfg.database_url, names)
            users_file.unlink(missing_ok=True)

    def soak(self, seeded: SeedResult) -> None:
        workers = min(self.cfg.workers)
        pin = Pinning.for_workers(workers)
        port = free_port()
        self.say(f"frontdesk soak: {self.cfg.soak_requests:,} verifies on {workers} worker(s), then memory")
        target = targets.frontdesk(port, workers, pin.server, self.cfg.database_url)
        out: Doc = {"workers": workers, "target_requests": self.cfg.soak_requests, "trajectory": []}
        try:
            with self.server(target, "frontdesk-soak", port) as srv:
                out["memory_at_start"] = memory_summary(srv)
                total, started, seconds = 0, time.monotonic(), 10.0
                while total < self.cfg.soak_requests:
                    left = self.cfg.soak_max_s - (time.monotonic() - started)
                    if left < 3:
                        self.note(f"soak stopped by its time bound after {total:,} verifies")
                        break
                    spec = self.verify_spec(port, workers, Path(seeded.token_file), round(min(seconds, left)))
                    (chunk,) = measure_together([spec], self.wrk, targets.REPO, srv.pid)
                    total += chunk.requests
                    # next chunk: about what is left at this rate, in chunks of 3 to 60 s
                    seconds = min(60.0, max(3.0, 1.05 * (self.cfg.soak_requests - total) / max(chunk.rps, 1.0)))
                    mem = memory_summary(srv)
                    out["trajectory"].append(
                        {"requests": total, "rps": chunk.rps, "rss_max_process_mb": mem["rss_max_process_mb"]}
                    )
                out["requests"] = total
                out["seconds"] = round(time.monotonic() - started, 1)
                out["memory_at_end"] = memory_summary(srv)
                self.say(f"  after {total:,} verifies: {out['memory_at_end']['rss_max_process_mb']} MB max RSS")
        except ServerFailed as exc:
            out["error"] = str(exc)
            self.note(f"frontdesk server failed (soak): {exc}")
        self.doc["frontdesk"]["soak"] = out

    # -- the plan -----------------------------------------------------------------------------

    def run(self) -> Doc:
        cfg = self.cfg
        self.wrk = ensure_wrk(self.log)
        self.environment()
        self.frontdesk_missing = targets.frontdesk_unavailable()
        self.doc["frontdesk"]["status"] = self.frontdesk_missing or "available"
        if self.frontdesk_missing:
            self.note(self.frontdesk_missing + " (its figures are reported as pending)")
        if cfg.runs("argon2"):
            self.argon2()
        ceiling_done = False
        for sessions in cfg.sessions:
            seeded = self.seed(sessions)
            if cfg.runs("pgbench"):
                self.pgbench(seeded)
            if cfg.runs("ceiling") and not ceiling_done:
                self.ceiling(Path(seeded.token_file))
                ceiling_done = True
            if self.frontdesk_missing:
                continue
            if cfg.runs("verify"):
                self.verify(seeded)
            if sessions == cfg.primary_sessions:
                if cfg.runs("login"):
                    self.login(seeded)
                if cfg.runs("totp"):
                    self.login_totp(seeded)
                if cfg.runs("soak") and cfg.soak_requests > 0:
                    self.soak(seeded)
        self.doc["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        return self.doc
