"""The real OpenID provider for tests: panva's `oidc-provider` (npm, pinned in package.json) on loopback.

`start_provider` installs the package with `npm ci` when `node_modules` is missing (as the CI
script installs nginx and Chromium), starts `provider.mjs` on a free port with one client for
frontdesk, and waits for its discovery document. Every step has a bounded timeout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.live import free_port, stop_process

HERE = Path(__file__).parent
INSTALL_TIMEOUT = 300.0
STARTUP_TIMEOUT = 30.0

# The frontdesk side of the tests: an in-process app on this public URL (never listened on;
# tests follow the provider's redirects to it themselves). It names the one real provider twice:
# "corp" (a generic provider, not trusted for email) and "trusted" (trusted for email).
PUBLIC_URL = "http://127.0.0.1:8000"
PROVIDER_NAMES = ("corp", "trusted")
CLIENT_ID = "frontdesk-tests"
CLIENT_SECRET = "test-only-client-secret-0123456789abcdef"
REDIRECT_URIS = [f"{PUBLIC_URL}/v1/oauth/{name}/callback" for name in PROVIDER_NAMES]


@dataclass
class OidcProvider:
    """A running oidc-provider process: its issuer URL and the frontdesk client registered with it."""

    issuer: str
    client_id: str
    client_secret: str
    process: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""  # where it listens (the issuer, unless it is reached through a proxy)

    def stop(self, timeout: float = 10) -> None:
        stop_process(self.process, timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def ensure_installed() -> None:
    """`npm ci` from the lock file when the package is not there yet."""
    if (HERE / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install the test OpenID provider (apt-get install nodejs npm)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=INSTALL_TIMEOUT, capture_output=True
    )


def start_provider(log_dir: Path, redirect_uris: list[str] | None = None, issuer: str | None = None) -> OidcProvider:
    """Start the provider; `issuer` when it is reached through a proxy at that URL (tests/oidc/tamper.py)."""
    ensure_installed()
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed to run the test OpenID provider")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    issuer = issuer or url
    clients = [
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris or REDIRECT_URIS}
    ]
    log_path = log_dir / f"oidc-provider-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, str(HERE / "provider.mjs"), str(port)],
            cwd=HERE,
            env={
                "PATH": "/usr/bin:/bin",
                "OIDC_CLIENTS": json.dumps(clients),
                "NODE_ENV": "test",
                "OIDC_ISSUER": issuer,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    provider = OidcProvider(issuer, CLIENT_ID, CLIENT_SECRET, process, log_path, url)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"oidc-provider exited early:\n{provider.log()}")
        try:
            if httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return provider
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    provider.stop()
    raise RuntimeError(f"oidc-provider did not start in {STARTUP_TIMEOUT}s:\n{provider.log()}")
