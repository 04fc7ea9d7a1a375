"""Fixtures for the HTTP layer: a real `frontdesk serve` process on loopback, and helpers to drive it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import FAST_ARGON2

STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running `frontdesk serve` subprocess. `stop()` sends SIGTERM (a graceful shutdown)."""

    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def client(self, **kwargs: object) -> httpx.Client:
        """A client that acts like a browser on the public origin (cookies kept, Origin sent)."""
        headers = {"Origin": self.url, "User-Agent": "frontdesk-tests"}
        headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    database_url: str,
    log_dir: Path,
    *,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    serve_args: tuple[str, ...] = (),
    set_public_url: bool = True,
) -> LiveServer:
    """`frontdesk serve` on a free port; `url` is how this machine reaches it (over loopback)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    if set_public_url:
        env["FRONTDESK_PUBLIC_URL"] = url
    env.update(
        {
            "FRONTDESK_DATABASE_URL": database_url,
            "FRONTDESK_ARGON2_TIME_COST": str(FAST_ARGON2["argon2_time_cost"]),
            "FRONTDESK_ARGON2_MEMORY_COST_KIB": str(FAST_ARGON2["argon2_memory_cost_kib"]),
            "FRONTDESK_ARGON2_PARALLELISM": str(FAST_ARGON2["argon2_parallelism"]),
        }
    )
    env.update(extra_env or {})
    log_path = log_dir / f"server-{port}.log"
    command = [sys.executable, "-m", "frontdesk.cli", "serve", "--host", host, "--port", str(port)]
    command += ["--workers", str(workers), *serve_args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(url, database_url, process, log_path, env)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not start in {STARTUP_TIMEOUT}s:\n{server.log()}")


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """`frontdesk serve` on a free loopback port, on the test's database (SQLite and PostgreSQL)."""
    server = start_server(database_url, tmp_path)
    yield server
    server.stop()
