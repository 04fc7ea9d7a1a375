"""Drive HTTP load on loopback with wrk (or the Python fallback) and read back one JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.cpu import Snapshot, between
from bench.tools import taskset

LUA = Path(__file__).resolve().parent / "lua"
MARKER = "@@BENCH_JSON "
Script = Literal["verify", "login", "login_totp"]
# a response slower than this is a socket error (timeout) and not in the latency figures;
# logins queue behind Argon2id, so a loaded login can legitimately take seconds
LATENCY_KEYS = ("p50", "p90", "p99", "p999", "max", "mean")
TIMEOUT: dict[str, str] = {"verify": "5s", "login": "60s", "login_totp": "60s"}


@dataclass(frozen=True, slots=True)
class LoadSpec:
    url: str
    script: Script
    data_file: Path  # tokens (verify), usernames (login) or `username secret` lines (login_totp)
    connections: int
    threads: int
    duration_s: float
    cpus: tuple[int, ...]
    password: str | None = None  # logins only
    database_url: str | None = None  # login_totp: to move the users' used TOTP steps aside first
    check_status: bool = True  # False for the ceiling, which answers 200 to everything


@dataclass(slots=True)
class LoadResult:
    tool: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    latency_ms: dict[str, float | None]  # None when nothing was answered
    socket_errors: int  # connect, read, write and timeout errors
    status: dict[str, int]  # responses by status: "200", "401", "other"
    unexpected_status: int | None  # valid token not 200, invalid not 401 (see README); None if unchecked
    cpu: dict[str, float] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)  # with --repeat: every attempt, briefly

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def command(spec: LoadSpec, wrk: str | None) -> list[str]:
    if spec.script == "login_totp":  # two requests and a TOTP code per sign-in: Python only (bench/mfaload.py)
        argv = [
            sys.executable, "-m", "bench.mfaload", "--url", spec.url, "--file", str(spec.data_file),
            "--password", spec.password or "", "--connections", str(spec.connections),
            "--duration", str(spec.duration_s), "--timeout", TIMEOUT[spec.script].rstrip("s"),
        ]  # fmt: skip
        if spec.database_url:
            argv += ["--database-url", spec.database_url]
        return taskset(spec.cpus, argv)
    extra = [spec.password] if spec.password is not None else []
    if wrk is not None:
        argv = [
            wrk, "-t", str(spec.threads), "-c", str(spec.connections), "-d", f"{spec.duration_s:.0f}s",
            "--timeout", TIMEOUT[spec.script], "-s", str(LUA / f"{spec.script}.lua"),
            spec.url, "--", str(spec.data_file), *extra,
        ]  # fmt: skip
    else:
        argv = [
            sys.executable, "-m", "bench.pyload", "--url", spec.url, "--script", spec.script,
            "--file", str(spec.data_file), "--connections", str(spec.connections),
            "--duration", str(spec.duration_s), "--timeout", TIMEOUT[spec.script].rstrip("s"),
        ]  # fmt: skip
        if spec.password is not None:
            argv += ["--password", spec.password]
    return taskset(spec.cpus, argv)


class RunningLoad:
    """A load generator started in the background; `wait()` gives its result."""

    def __init__(self, spec: LoadSpec, wrk: str | None, cwd: Path) -> None:
        self.spec, self.tool = spec, "wrk" if wrk else "python-asyncio"
        self.proc = subprocess.Popen(
            command(spec, wrk), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def wait(self) -> LoadResult:
        try:
            out, err = self.proc.communicate(timeout=self.spec.duration_s + 60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        for line in out.splitlines():
            if line.startswith(MARKER):
                return parse(self.spec, self.tool, json.loads(line[len(MARKER) :]))
        raise RuntimeError(f"{self.tool} printed no result (exit {self.proc.returncode}): {err.strip()[-500:]}")


def parse(spec: LoadSpec, tool: str, raw: dict[str, Any]) -> LoadResult:
    lat = raw["latency_us"]
    errors = raw["errors"]
    duration = raw["duration_us"] / 1e6
    ok, unauth, other = raw["got_ok"], raw["got_unauth"], raw["got_other"]
    unexpected = None
    if spec.check_status:
        # Requests still in flight when the run stops were counted as sent but never answered, so
        # "more answers of a kind than requests expecting it" is the check; see README.
        unexpected = other + max(0, ok - raw["sent_ok"]) + max(0, unauth - raw["sent_unauth"])
    return LoadResult(
        tool=tool,
        connections=spec.connections,
        duration_s=round(duration, 2),
        requests=raw["requests"],
        rps=round(raw["requests"] / max(duration, 1e-9), 1),
        latency_ms={
            k: round(lat[k] / 1000, 3) if raw["requests"] else None
            for k in ("p50", "p90", "p99", "p999", "max", "mean")
        },
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        status={"200": ok, "401": unauth, "other": other},
        unexpected_status=unexpected,
    )


def measure(spec: LoadSpec, wrk: str | None, cwd: Path, server_pid: int | None) -> LoadResult:
    """Run one load and account for the CPU used while it ran (see bench.cpu)."""
    return measure_together([spec], wrk, cwd, server_pid)[0]


def measure_together(specs: list[LoadSpec], wrk: str | None, cwd: Path, server_pid: int | None) -> list[LoadResult]:
    """Run several loads at once (e.g. logins beside verifies) against one server."""
    runs: list[RunningLoad] = []
    try:
        runs = [RunningLoad(s, wrk, cwd) for s in specs]
        window = min(s.duration_s for s in specs)
        servers, loads = ([server_pid] if server_pid else []), [r.pid for r in runs]
        time.sleep(min(1.0, window * 0.1))
        first = Snapshot.take(servers, loads)
        time.sleep(max(0.0, window * 0.8 - min(1.0, window * 0.1)))
        cpu = between(first, Snapshot.take(servers, loads)).as_dict()
        results = [r.wait() for r in runs]
    finally:
        for r in runs:  # on an interrupt or an error, leave no load generator behind
            r.kill()
    for result in results:
        # requests per second of server CPU: less sensitive than req/s to other people's processes
        result.cpu = {**cpu, "rps_per_server_core": round(result.rps / max(cpu["server_cores"], 1e-3), 1)}
    return results
