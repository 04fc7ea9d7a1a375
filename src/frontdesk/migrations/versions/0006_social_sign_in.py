"""social sign-in: identities, oauth_flows; users.hashed_password may be NULL

Revision ID: 0006_social_sign_in
Revises: 0002_sessions_fillfactor
Create Date: 2026-12-02 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_social_sign_in"
down_revision = "0005_second_factors"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        _when("created"),
        _when("last_used"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_identities_issuer_subject")),
        sqlite_autoincrement=True,  # ids are never reused (0003)
    )
    op.create_index(op.f("ix_identities_user_id"), "identities", ["user_id"], unique=False)
    op.create_table(
        "oauth_flows",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("state_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("binding_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("nonce_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("verifier_box", sa.LargeBinary(length=128), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("user_id", BIG_ID, nullable=True),
        sa.Column("next_path", sa.String(length=2048), nullable=False),
        sa.Column("remember_device", sa.Boolean(), nullable=False),
        _when("created"),
        _when("expiry"),
        _when("used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_flows_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_flows")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_flows_state_hash")),
        sqlite_autoincrement=True,  # ids are never reused (0003)
    )
    op.create_index(op.f("ix_oauth_flows_expiry"), "oauth_flows", ["expiry"], unique=False)
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("hashed_password", existing_type=sa.String(length=200), nullable=True)


def downgrade() -> None:
    # accounts without a password cannot survive the older schema: they get an unusable hash
    op.execute("UPDATE users SET hashed_password = '!' WHERE hashed_password IS NULL")
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("hashed_password", existing_type=sa.String(length=200), nullable=False)
    op.drop_index(op.f("ix_oauth_flows_expiry"), table_name="oauth_flows")
    op.drop_table("oauth_flows")
    op.drop_index(op.f("ix_identities_user_id"), table_name="identities")
    op.drop_table("identities")
