"""ids are never reused: AUTOINCREMENT on SQLite for every table with an id

SQLite hands out max(rowid) + 1 unless a table says AUTOINCREMENT, so after cleanup deleted the
newest rows a new session could get the id of a deleted API key (ids travel to upstream apps as
X-Frontdesk-Session-Id). Each table is rebuilt with AUTOINCREMENT (batch mode: rows, indexes and
constraints kept; `frontdesk.migrate.upgrade` turns SQLite's foreign keys off while it runs, so
rebuilding `users` cascades nothing). Ids deleted before this migration above the largest kept
one can't be known, except sessions' from the audit table, which seed the sessions counter.
PostgreSQL's identity sequences never hand a value out twice: nothing to do there.

Revision ID: 0003_ids_never_reused
Revises: 0002_sessions_fillfactor
Create Date: 2026-12-02 01:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0003_ids_never_reused"
down_revision = "0002_sessions_fillfactor"
branch_labels = None
depends_on = None

TABLES = ("users", "sessions", "login_tokens", "password_reset_tokens", "signup_tokens", "auth_events", "email_outbox")


def _rebuild(autoincrement: bool) -> None:
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
            pass


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(True)
    # a session id named in the audit table may belong to a session cleanup already deleted
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) "
        "SELECT 'sessions', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sessions')"
    )
    op.execute(
        "UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT COALESCE(MAX(session_id), 0) FROM auth_events)) "
        "WHERE name = 'sessions'"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(False)
