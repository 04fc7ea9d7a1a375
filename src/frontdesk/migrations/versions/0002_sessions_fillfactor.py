"""sessions: leave room on each page for updates of last_seen/api_calls (PostgreSQL)

Every flush of coalesced touches rewrites the touched rows. With full pages (fillfactor 100,
the default) PostgreSQL must put each new row version on another page and add an entry to every
index of `sessions`; with free space on the page the update is HOT: no index is touched and the
old version is pruned in place. Rows written before this migration move to roomier pages as they
are rewritten (or at once with `VACUUM FULL sessions`).

Revision ID: 0002_sessions_fillfactor
Revises: 0001_initial
Create Date: 2026-11-27 16:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0002_sessions_fillfactor"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

FILLFACTOR = 80


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE sessions SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE sessions RESET (fillfactor)")
