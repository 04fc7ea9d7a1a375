"""sign-in codes: login_tokens.code_hash (Argon2id) and login_tokens.code_attempts

Revision ID: 0009_sign_in_codes
Revises: 0008_new_device_notices
Create Date: 2026-12-02 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_sign_in_codes"
down_revision = "0008_new_device_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("login_tokens", sa.Column("code_hash", sa.String(length=200), nullable=True))
    op.add_column("login_tokens", sa.Column("code_attempts", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    # SQLite drops a column by rebuilding the table, keeping AUTOINCREMENT (0003)
    with op.batch_alter_table("login_tokens", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("code_attempts")
        batch.drop_column("code_hash")
