"""`python -m build` makes an sdist and a wheel that each install into a fresh venv and work:
the library alone on SQLite, then with the server extra the `frontdesk` command.

Slow (it builds and installs twice; about a minute): runs under `make test-slow`. Installs use uv
and the versions pinned in uv.lock, so the test needs `.uv/bin/uv` (every make target makes it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".uv" / "bin" / "uv"
SMOKE = Path(__file__).with_name("smoke.py")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.environ.get("FRONTDESK_TEST_SLOW") != "1", reason="run with `make test-slow`"),
]


def run(*args: str | Path, cwd: Path | None = None) -> str:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from a clean copy of the tracked files."""
    if not UV.exists():
        pytest.fail(f"{UV} is missing: run `make .venv/.installed` first")
    base = tmp_path_factory.mktemp("build")
    source = base / "source"
    files = run("git", "ls-files", "-z", cwd=ROOT).split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    run(sys.executable, "-m", "build", "--outdir", base / "dist", source)
    return base / "dist"


def pinned(extra: str | None, out: Path) -> Path:
    """uv.lock's versions, as a requirements file (without frontdesk itself)."""
    args = ["export", "--frozen", "--no-hashes", "--no-emit-project", "--no-dev", "--project", str(ROOT)]
    out.write_text(run(UV, *args, *(["--extra", extra] if extra else [])))
    return out


@pytest.mark.parametrize("kind", ["tar.gz", "whl"])
def test_the_distribution_installs_and_works(dist: Path, kind: str, tmp_path: Path) -> None:
    (artifact,) = dist.glob(f"frontdesk-*.{kind}")
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    run(UV, "pip", "install", "--quiet", "--python", python, "-r", pinned(None, tmp_path / "core.txt"), artifact)

    report = json.loads(run(python, SMOKE, cwd=tmp_path).splitlines()[-1])
    assert str(venv) in report["file"]  # the installed copy, not the work tree
    assert report["root_loaded"] == []
    assert report["user"] == "smoke"
    assert report["server_only_loaded"] == []  # the library alone needs none of the server extra

    requirements = pinned("server", tmp_path / "server.txt")
    run(UV, "pip", "install", "--quiet", "--python", python, "-r", requirements, f"{artifact}[server]")
    assert "serve" in run(venv / "bin" / "frontdesk", "--help")
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    env_run = subprocess.run(
        [venv / "bin" / "frontdesk", "migrate"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FRONTDESK_DATABASE_URL": database},
    )
    assert env_run.returncode == 0, env_run.stderr
