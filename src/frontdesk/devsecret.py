"""The development secret: what `FRONTDESK_SECRET` is when it is not set and `ENV=development`.

Never an empty key. A random secret is made once and kept in a file, so every worker and every
restart signs with the same key (form tokens keep working) and nobody can guess it:

* SQLite: next to the database file, `<database>-secret` (`./frontdesk.db-secret` by default);
* PostgreSQL (or any other server database): `./frontdesk-dev.secret` in the working directory;
* an in-memory SQLite database: a random secret for this process only (the data dies with it).

The file is created with mode 0600, atomically (several workers starting at once agree on one).
Production never comes here: it requires `FRONTDESK_SECRET`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SERVER_DATABASE_FILE = Path("frontdesk-dev.secret")
MIN_LENGTH = 32


def secret_path(database_url: str) -> Path | None:
    """Where the development secret for this database lives; None for an in-memory database (or a
    URL that is not one: the settings then refuse it with their own message)."""
    try:
        url = make_url(database_url)
    except (ArgumentError, ValueError):  # not a URL, or a bad port: the settings refuse it in one line
        return None
    if not url.get_backend_name().startswith("sqlite"):
        return SERVER_DATABASE_FILE
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:") or url.query.get("mode") == "memory":
        return None
    file = Path(database.removeprefix("file:"))
    return file.with_name(file.name + "-secret")


def development_secret(database_url: str) -> str:
    """Read the development secret for this database, making it first if there is none."""
    path = secret_path(database_url)
    if path is None or not path.parent.is_dir():
        # no file to keep it in; a database in a missing folder can't open either, and says so
        return secrets.token_urlsafe(32)
    try:
        if not path.exists():
            _create(path)
        value = path.read_text().strip()
    except OSError as exc:
        raise ValueError(
            f"cannot keep the development secret in {path} ({exc.strerror}): set FRONTDESK_SECRET"
        ) from None
    if len(value) < MIN_LENGTH:
        raise ValueError(f"the development secret in {path} is shorter than {MIN_LENGTH} characters: delete the file")
    return value


def _create(path: Path) -> None:
    """Write a fresh secret to `path` unless another process got there first (then keep theirs)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
        with contextlib.suppress(FileExistsError):  # another process made it first: keep theirs
            os.link(temporary, path)  # atomic, and fails if the file appeared meanwhile
    finally:
        temporary.unlink(missing_ok=True)
