"""External tools: wrk (installed from Debian when missing), pgbench, taskset, and CPU pinning."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

APT_TIMEOUT_S = 300


def _apt(*args: str) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            ["apt-get", *args], env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def ensure_wrk(log: list[str]) -> str | None:
    """The path of wrk, installing Debian's package when it is missing; None if it cannot be had."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        log.append("wrk missing and apt-get unusable (not root or not Debian)")
        return None
    log.append("wrk missing: apt-get install -y wrk")
    if not _apt("install", "-y", "-q", "wrk"):
        log.append("apt-get install failed; apt-get update and retry")
        _apt("update", "-q")
        _apt("install", "-y", "-q", "wrk")
    found = shutil.which("wrk")
    if not found:
        log.append("wrk could not be installed; falling back to the Python async load generator")
    return found


def tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


@dataclass(frozen=True, slots=True)
class Pinning:
    """Which CPUs the server and the load generator run on.

    With W workers on a machine of C CPUs the server gets CPUs 0..W-1. The load generator gets
    the CPUs left over; when none are left (2 workers on 2 CPUs) it shares the server's CPUs.
    PostgreSQL is a system service and is not pinned: its backends run wherever the kernel puts them.
    """

    server: tuple[int, ...]
    load: tuple[int, ...]

    @property
    def shared(self) -> bool:
        return bool(set(self.server) & set(self.load))

    @staticmethod
    def for_workers(workers: int) -> Pinning:
        cpus = tuple(sorted(os.sched_getaffinity(0)))
        server = cpus[: max(1, min(workers, len(cpus)))]
        rest = tuple(c for c in cpus if c not in server)
        return Pinning(server=server, load=rest or cpus)

    def describe(self) -> str:
        return f"server CPUs {_cpus(self.server)}, load CPUs {_cpus(self.load)}" + (" (shared)" if self.shared else "")


def _cpus(cpus: tuple[int, ...]) -> str:
    return ",".join(str(c) for c in cpus)


def taskset(cpus: tuple[int, ...], argv: list[str]) -> list[str]:
    """`argv` pinned to `cpus` when taskset exists, else unchanged."""
    if shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", _cpus(cpus), *argv]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
