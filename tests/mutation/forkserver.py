"""A fork server for `make mutation`: pytest's start-up without the third-party imports.

Each mutant's test run used to start a new Python, import SQLAlchemy, pydantic, Starlette and the
rest, then frontdesk, then run a few seconds of tests: on a shared machine the imports were most of
the cost. This server imports the third-party libraries once (never frontdesk, never `tests`: those
must come fresh from disk, mutant included) and forks a child per request, which runs
`pytest.main(args)` with the client's stdout and stderr and exits with pytest's status.

    python tests/mutation/forkserver.py SOCKET TIMEOUT      # run.py starts and stops it
    python -S tests/mutation/client.py SOCKET pytest-args   # cosmic-ray's test command

Stdlib only at module level, so it can be started by path.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import time

# imported once in the server; a module that fails to import is simply left to the child
WARM = (
    "sqlalchemy",
    "sqlalchemy.orm",
    "sqlalchemy.ext.hybrid",
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "sqlalchemy.pool",
    "alembic",
    "alembic.command",
    "alembic.config",
    "alembic.autogenerate",
    "pydantic",
    "pydantic_settings",
    "argon2",
    "cryptography.hazmat.primitives.ciphers.aead",
    "cryptography.hazmat.primitives.kdf.hkdf",
    "pyotp",
    "segno",
    "httpx",
    "starlette.applications",
    "starlette.requests",
    "starlette.responses",
    "fastapi",
    "jinja2",
    "rich",
    "click",
    "hypothesis",
    "hypothesis.strategies",
    "webauthn",
    "psycopg",
    "pytest",
)
OURS = ("frontdesk", "tests")


def _warm() -> None:
    for name in WARM:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: S112 - the child imports it, or fails, on its own
            continue
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in OURS)
    if leaked:  # a warm import pulled in our own code: the children would test it unmutated
        raise SystemExit(f"fork server: refusing to serve, imported {leaked[:5]}")


def _child(request: dict[str, object], fds: list[int]) -> None:
    sys.dont_write_bytecode = True  # a mutant's .pyc could outlive it (same size, same second)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})  # type: ignore[call-overload]
    sys.path.insert(0, str(request["cwd"]))  # as `python -m pytest` from that directory does
    import pytest

    code = pytest.main([str(a) for a in list(request["args"])])  # type: ignore[call-overload]
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def serve(path: str, timeout: float) -> None:
    _warm()
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    print(f"fork server ready on {path}", flush=True)
    while True:
        conn, _ = server.accept()
        with conn:
            data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
            request = json.loads(data.decode())
            if request.get("stop"):
                return
            pid = os.fork()
            if pid == 0:
                server.close()
                conn.close()
                try:
                    _child(request, fds)
                except BaseException:
                    import traceback

                    traceback.print_exc()
                    sys.stderr.flush()
                finally:
                    os._exit(70)
            for fd in fds:
                os.close(fd)
            status = _wait(pid, timeout)
            with contextlib.suppress(OSError):  # the client was killed (cosmic-ray's timeout)
                conn.sendall(str(status).encode())


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return 124  # as timeout(1): a hang counts as killed


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    serve(sys.argv[1], float(sys.argv[2]))
