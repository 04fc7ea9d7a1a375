"""new-device notices: the devices each account signs in from, and "this wasn't me" links

Revision ID: 0008_new_device_notices
Revises: 0007_account_lifecycle
Create Date: 2026-12-02 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_new_device_notices"
down_revision = "0007_account_lifecycle"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _device_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("browser", sa.String(length=100), nullable=False),
        sa.Column("operating_system", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=100), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sign_in_devices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        *_device_columns(),
        _when("first_used"),
        _when("last_used"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sign_in_devices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_devices")),
        sa.UniqueConstraint(
            "user_id",
            "browser",
            "operating_system",
            "country",
            name=op.f("uq_sign_in_devices_user_id_browser_operating_system_country"),
        ),
        sqlite_autoincrement=True,  # ids are never reused (0003)
    )
    name = "new_device_notices"
    op.create_table(
        name,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        _when("created"),
        _when("expiry"),
        _when("used_at", nullable=True),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("session_id", BIG_ID, nullable=False),
        *_device_columns(),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f(f"fk_{name}_user_id_users"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sqlite_autoincrement=True,
    )
    op.create_index(f"ix_{name}_by_token_hash", name, ["token_hash"], unique=False, postgresql_using="hash")
    op.create_index(op.f(f"ix_{name}_expiry"), name, ["expiry"], unique=False)
    op.create_index(op.f(f"ix_{name}_user_id"), name, ["user_id"], unique=False)


def downgrade() -> None:
    name = "new_device_notices"
    op.drop_index(op.f(f"ix_{name}_user_id"), table_name=name)
    op.drop_index(op.f(f"ix_{name}_expiry"), table_name=name)
    op.drop_index(f"ix_{name}_by_token_hash", table_name=name)
    op.drop_table(name)
    op.drop_table("sign_in_devices")
