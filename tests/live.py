"""Live servers for the whole suite: a real `frontdesk serve` process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fast import FAST_ENV
from tests.waiting import wait_until

STARTUP_TIMEOUT = 90.0  # generous: it returns as soon as the server answers; a loaded machine starts slowly


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM (a graceful shutdown), then SIGKILL after `timeout` seconds; the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return int(process.returncode)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
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

    def client(self, headers: Mapping[str, str] | None = None, **kwargs: Any) -> httpx.Client:
        """A client that acts like a browser on the public origin (cookies kept, Origin sent)."""
        merged = {"Origin": self.url, "User-Agent": "frontdesk-tests", **(headers or {})}
        return httpx.Client(base_url=self.url, headers=merged, timeout=30, **kwargs)

    def stop(self, timeout: float = 20) -> int:
        return stop_process(self.process, timeout)

    def stop_now(self) -> None:
        """`stop()` for a cleanup hook (which wants no answer)."""
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False


def server_env(database_url: str, url: str, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a test server: this process's, minus any FRONTDESK_ setting, plus the test's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
    env.update({"FRONTDESK_DATABASE_URL": database_url, "FRONTDESK_PUBLIC_URL": url, **FAST_ENV})
    env.update(extra_env or {})
    return env


def start_server(
    database_url: str,
    log_dir: Path,
    *,
    workers: int = 1,
    extra_env: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    serve_args: tuple[str, ...] = (),
    set_public_url: bool = True,
    port: int | None = None,
) -> LiveServer:
    """Start `frontdesk serve` on `database_url` and wait until `/healthz` answers 200.

    `url` is how this machine reaches it (over loopback, whatever `host` it listens on);
    `set_public_url=False` leaves FRONTDESK_PUBLIC_URL unset (unless `extra_env` sets it); `port`
    (default: a free one) lets `extra_env` name the address, e.g. a public URL on `localhost`."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = server_env(database_url, url, extra_env)
    if not set_public_url and "FRONTDESK_PUBLIC_URL" not in (extra_env or {}):
        del env["FRONTDESK_PUBLIC_URL"]
    log_path = log_dir / f"server-{port}.log"
    command = [sys.executable, "-m", "frontdesk.cli", "serve", "--host", host, "--port", str(port)]
    command += ["--workers", str(workers), *serve_args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(url, database_url, process, log_path, env)
    try:
        started = wait_until(server.healthy, STARTUP_TIMEOUT, interval=0.1)
    except RuntimeError:
        server.stop()
        raise
    if not started:
        server.stop()
        raise RuntimeError(f"server did not start in {STARTUP_TIMEOUT}s:\n{server.log()}")
    return server
