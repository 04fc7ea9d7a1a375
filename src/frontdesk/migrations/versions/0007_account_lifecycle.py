"""account lifecycle: email change and undo links, restore links; users.deleted_at, users.erased_at

Revision ID: 0007_account_lifecycle
Revises: 0006_social_sign_in
Create Date: 2026-12-02 06:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_account_lifecycle"
down_revision = "0006_social_sign_in"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _token_table(name: str, *columns: sa.Column[object]) -> None:
    """A single-use emailed token of a user (the shape of `models.tokens._EmailToken`)."""
    op.create_table(
        name,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        _when("created"),
        _when("expiry"),
        _when("used_at", nullable=True),
        sa.Column("user_id", BIG_ID, nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{name}_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sqlite_autoincrement=True,  # ids are never reused (0003)
    )
    op.create_index(f"ix_{name}_by_token_hash", name, ["token_hash"], unique=False, postgresql_using="hash")
    op.create_index(op.f(f"ix_{name}_expiry"), name, ["expiry"], unique=False)
    op.create_index(op.f(f"ix_{name}_user_id"), name, ["user_id"], unique=False)


def upgrade() -> None:
    _token_table(
        "email_change_tokens",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
    )
    _token_table(
        "email_revert_tokens",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
    )
    _token_table("account_restore_tokens")
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.add_column(_when("deleted_at", nullable=True))
        batch.add_column(_when("erased_at", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("erased_at")
        batch.drop_column("deleted_at")
    for name in ("account_restore_tokens", "email_revert_tokens", "email_change_tokens"):
        op.drop_index(op.f(f"ix_{name}_user_id"), table_name=name)
        op.drop_index(op.f(f"ix_{name}_expiry"), table_name=name)
        op.drop_index(f"ix_{name}_by_token_hash", table_name=name)
        op.drop_table(name)
