"""How each server under test is started: the ceiling, and frontdesk itself (the one place to edit)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.tools import taskset

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_path: str


def ceiling(port: int, workers: int, cpus: tuple[int, ...]) -> Target:
    argv = [
        sys.executable, "-m", "uvicorn", "bench.ceiling:app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
        "--app-dir", str(REPO),
    ]  # fmt: skip
    return Target("ceiling", taskset(cpus, argv), {}, "/")


def frontdesk_argv(port: int, workers: int) -> list[str]:
    """THE frontdesk server command. Change it here, and only here, if `frontdesk serve` changes."""
    return [str(BIN / "frontdesk"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def frontdesk(port: int, workers: int, cpus: tuple[int, ...], database_url: str) -> Target:
    env = {"FRONTDESK_DATABASE_URL": database_url, "FRONTDESK_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    return Target("frontdesk", taskset(cpus, frontdesk_argv(port, workers)), env, "/healthz")


def frontdesk_unavailable() -> str | None:
    """Why the frontdesk server cannot be benchmarked yet, or None when `frontdesk serve` exists."""
    argv = frontdesk_argv(0, 1)
    if not Path(argv[0]).exists():
        return f"frontdesk server not available yet: {argv[0]} is missing"
    try:
        done = subprocess.run([argv[0], "serve", "--help"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"frontdesk server not available yet: {exc}"
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"frontdesk server not available yet: `frontdesk serve --help` exited {done.returncode}: {last[0]}"
    return None
