"""Bench setup for sign-ins with an authenticator-app second step: give some of the login users
an authenticator app (through the library, as `/v1/second-factors/totp` would), write their
secrets to a file for bench/mfaload.py, and take the apps away again afterwards so the other
parts of the bench see password-only users."""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg
import pyotp

from bench import targets
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import find_user_by_ref
from frontdesk.service.context import RequestContext
from frontdesk.service.totp import begin_totp_enrolment, confirm_totp
from frontdesk.settings import Settings

BATCH = 100
CTX = RequestContext(ip_address=None, user_agent="frontdesk-bench")


def enrol(database_url: str, usernames: list[str], path: Path) -> int:
    """Enrol an authenticator app for each user; write `username secret` lines to `path` (0600).

    The settings are read in the servers' working directory, so the development secret (and so
    the key the TOTP secrets are sealed with) is the one the bench servers use.
    """
    with contextlib.chdir(targets.REPO):
        fd = Frontdesk(Settings(database_url=database_url))
    lines: list[str] = []
    try:
        for first in range(0, len(usernames), BATCH):
            with fd.transaction() as db:
                for name in usernames[first : first + BATCH]:
                    user = find_user_by_ref(db, name)
                    secret = begin_totp_enrolment(db, fd.deps, user.id, CTX).secret
                    confirm_totp(db, fd.deps, user.id, pyotp.TOTP(secret).now(), CTX)
                    lines.append(f"{name} {secret}")
    finally:
        fd.close()
    with psycopg.connect(database_url) as conn:
        # the "a second factor was added" notices: not part of what is measured
        conn.execute("DELETE FROM email_outbox WHERE kind = 'second_factor_added'")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def remove(database_url: str, usernames: list[str]) -> None:
    """Take the bench users' apps and recovery codes away (their sessions stay, for the soak)."""
    with psycopg.connect(database_url) as conn:
        for table in ("recovery_codes", "totp_factors"):
            conn.execute(
                f"DELETE FROM {table} USING users WHERE users.id = {table}.user_id AND users.username = ANY(%s)",
                (usernames,),
            )
