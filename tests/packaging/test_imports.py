"""The package root is light and the library mode needs no server: each checked in a fresh
interpreter, since this test process has long since imported everything."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

WEB_STACK = {"fastapi", "starlette", "uvicorn", "asyncpg"}
# the server's dependencies (the `frontdesk[server]` extra); prometheus_client is absent from this
# list only because the dev install has it, and `frontdesk.metrics` then uses it (the build smoke
# test checks the library without it)
SERVER_ONLY = {"uvicorn", "asyncpg", "typer", "rich", "geoip2fast"}


def imported_packages(statement: str) -> set[str]:
    """The top-level packages loaded by running `statement` in a fresh interpreter."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize("statement", ["import frontdesk", "import frontdesk.errors", "import frontdesk.models"])
def test_the_package_root_loads_no_web_stack(statement: str) -> None:
    assert imported_packages(statement) & WEB_STACK == set()


def test_migrations_need_only_the_models() -> None:
    loaded = imported_packages("import frontdesk.models")
    assert {"pydantic", "jinja2", "argon2", "fastapi"} & loaded == set()


def test_the_library_mode_loads_no_server_dependency() -> None:
    loaded = imported_packages("from frontdesk import FrontdeskAuth, Principal, Settings, AuthError")
    assert {"fastapi", "starlette"} <= loaded
    assert loaded & SERVER_ONLY == set()


def test_the_public_names_resolve_lazily() -> None:
    import frontdesk
    from frontdesk.settings import Settings
    from frontdesk.web.library import FrontdeskAuth

    assert frontdesk.FrontdeskAuth is FrontdeskAuth
    assert frontdesk.Settings is Settings
    assert set(frontdesk.__all__) <= set(dir(frontdesk))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        frontdesk.nothing  # noqa: B018


def test_the_library_runs_without_the_server_extra() -> None:
    """With every server-only package missing, the library imports, counts nothing and locates nothing."""
    blocked = sorted(SERVER_ONLY | {"prometheus_client"})
    code = (
        f"import sys\nfor name in {blocked!r}: sys.modules[name] = None\n"
        "from frontdesk import FrontdeskAuth\n"
        "from frontdesk.metrics import LOGINS, VERIFY_BATCH\n"
        "from frontdesk.service.devices import locate\n"
        "LOGINS.labels('password', 'success').inc(); VERIFY_BATCH.observe(3)\n"
        "print(type(LOGINS).__module__, locate('8.8.8.8'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.split() == ["frontdesk.metrics", "Unknown"]
