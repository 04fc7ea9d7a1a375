"""Does the answer's timing tell whether an account exists? (issue 12 finding 1; contract section 4)

Starts `frontdesk serve` on loopback (SQLite in a temporary directory, production Argon2
defaults), creates one account, then times `POST /v1/password-reset` and `POST /v1/login-link`
for that account and for unknown names, interleaved, and prints each median and the gap.

    .venv/bin/python -m bench.existence_timing --samples 60
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from frontdesk.settings import Settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=60, help="requests per (endpoint, kind); 50+ for the issue")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.3,
        help="seconds between requests, for the work after each response to finish (a sign-in link's "
        "code is hashed with production Argon2 there)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'frontdesk.db'}"
        fd = Frontdesk(Settings(database_url=url))
        fd.migrate()
        fd.call(
            create_user,
            email="known@example.com",
            username="known",
            password="a long passphrase here",
            name="Known",
            ctx=RequestContext(),
        )
        fd.close()
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDESK_")}
        env.update(
            {
                "FRONTDESK_DATABASE_URL": url,
                "FRONTDESK_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "FRONTDESK_EMAILS_PER_ADDRESS": "100000",
                "FRONTDESK_EMAILS_PER_IP": "100000",
            }
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "frontdesk.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for _ in range(100):
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.1)
                for path in ("/v1/password-reset", "/v1/login-link"):
                    times: dict[str, list[float]] = {"existing": [], "unknown": []}
                    for i in range(args.samples * 2 + 10):
                        kind = "existing" if i % 2 == 0 else "unknown"
                        user = "known@example.com" if kind == "existing" else f"nobody{i}@example.com"
                        start = time.perf_counter()
                        response = client.post(path, json={"user": user})
                        elapsed = (time.perf_counter() - start) * 1000
                        assert response.status_code == 202, response.text
                        if i >= 10:  # warm-up
                            times[kind].append(elapsed)
                        time.sleep(args.settle)  # let the work after the response finish
                    known, unknown = (statistics.median(times[k]) for k in ("existing", "unknown"))
                    gap = abs(known - unknown)
                    verdict = "ok" if gap <= 0.5 or gap <= 0.1 * max(known, unknown) else "LEAKS"
                    print(
                        f"{path}: existing {known:.2f} ms, unknown {unknown:.2f} ms, gap {gap:.2f} ms "
                        f"({len(times['existing'])}+{len(times['unknown'])} samples) {verdict}"
                    )
        finally:
            server.terminate()
            server.wait(20)


if __name__ == "__main__":
    main()
