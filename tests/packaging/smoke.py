"""Run by an installed frontdesk in a fresh venv (not by pytest): what `import frontdesk` loads,
then the library on SQLite (migrate, create a user, sign in, authenticate). Prints one JSON line."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import frontdesk

WEB_STACK = {"fastapi", "starlette", "uvicorn", "asyncpg"}
SERVER_ONLY = {"uvicorn", "asyncpg", "typer", "rich", "geoip2fast", "prometheus_client"}


def loaded(names: set[str]) -> list[str]:
    return sorted({name.split(".")[0] for name in sys.modules} & names)


def library_call() -> str | None:
    """The username behind a session made through the library, on a new SQLite database."""
    from frontdesk.service.accounts import create_user
    from frontdesk.service.context import NO_CONTEXT
    from frontdesk.service.login import login_with_password
    from frontdesk.service.sessions import authenticate

    with tempfile.TemporaryDirectory() as directory:
        settings = frontdesk.Settings(
            database_url=f"sqlite:///{Path(directory) / 'smoke.db'}",
            argon2_time_cost=1,
            argon2_memory_cost_kib=64,
            argon2_parallelism=1,
        )
        auth = frontdesk.FrontdeskAuth(settings)
        fd = auth.frontdesk
        fd.migrate()
        secret = "a test passphrase, long enough"  # (none may contain the username)
        fd.call(create_user, email="smoke@example.com", username="smoke", password=secret, name="S", ctx=NO_CONTEXT)
        issued = fd.call(login_with_password, "smoke", secret, False, NO_CONTEXT).issued
        principal = fd.read(authenticate, issued.token, is_api_key=False)
        auth.close()
    return principal.username if principal else None


if __name__ == "__main__":
    root = loaded(WEB_STACK)
    user = library_call()
    report = {"file": frontdesk.__file__, "root_loaded": root, "user": user, "server_only_loaded": loaded(SERVER_ONLY)}
    print(json.dumps(report))
