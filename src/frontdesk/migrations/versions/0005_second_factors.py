"""second factors: TOTP, WebAuthn credentials, recovery codes, challenges; sessions gain aal

Sessions made before this migration are aal 1 with unknown factors; their `authenticated_at` is
NULL, read as `created` (no UPDATE: rewriting every session row would stall a big table).

Revision ID: 0005_second_factors
Revises: 0002_sessions_fillfactor
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_second_factors"
down_revision = "0003_ids_never_reused"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FALSE = sa.text("false")


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "totp_factors",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("secret_box", sa.LargeBinary(length=128), nullable=False),
        sa.Column("confirmed", sa.Boolean(), server_default=FALSE, nullable=False),
        _when("created"),
        _when("confirmed_at", nullable=True),
        sa.Column("last_used_step", sa.BigInteger(), nullable=True),
        _when("last_used_at", nullable=True),
        _user_fk("totp_factors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_factors")),
        sa.UniqueConstraint("user_id", "confirmed", name=op.f("uq_totp_factors_user_id_confirmed")),
        sqlite_autoincrement=True,  # ids are never reused (0003)
    )
    op.create_table(
        "webauthn_credentials",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=2048), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.String(length=200), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("user_handle", sa.LargeBinary(length=64), nullable=False),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("passkey", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        _when("created"),
        _when("last_used", nullable=True),
        _user_fk("webauthn_credentials"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webauthn_credentials")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_webauthn_credentials_credential_id")),
        sqlite_autoincrement=True,  # ids are never reused (0003)
    )
    op.create_index(op.f("ix_webauthn_credentials_user_id"), "webauthn_credentials", ["user_id"], unique=False)
    op.create_table(
        "recovery_codes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        _when("created"),
        _when("used_at", nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        _user_fk("recovery_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sqlite_autoincrement=True,  # ids are never reused (0003)
    )
    op.create_index("ix_recovery_codes_user_id_code_hash", "recovery_codes", ["user_id", "code_hash"], unique=False)
    op.create_table(
        "second_factor_challenges",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("first_factor", sa.String(length=32), nullable=False),
        sa.Column("remember_device", sa.Boolean(), server_default=FALSE, nullable=False),
        sa.Column("new_password_hash", sa.String(length=200), nullable=True),
        sa.Column("keep_api_keys", sa.Boolean(), server_default=FALSE, nullable=False),
        sa.Column("session_id", BIG_ID, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _when("created"),
        _when("expiry"),
        _when("used_at", nullable=True),
        _user_fk("second_factor_challenges"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_second_factor_challenges")),
        sqlite_autoincrement=True,  # ids are never reused (0003)
    )
    op.create_index(
        "ix_second_factor_challenges_by_token_hash",
        "second_factor_challenges",
        ["token_hash"],
        unique=False,
        postgresql_using="hash",
    )
    op.create_index(op.f("ix_second_factor_challenges_expiry"), "second_factor_challenges", ["expiry"], unique=False)
    op.create_index(op.f("ix_second_factor_challenges_user_id"), "second_factor_challenges", ["user_id"], unique=False)
    op.create_table(
        "webauthn_challenges",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("challenge_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("user_id", BIG_ID, nullable=True),
        sa.Column("second_factor_challenge_id", BIG_ID, nullable=True),
        sa.Column("user_handle", sa.LargeBinary(length=64), nullable=True),
        _when("created"),
        _when("expiry"),
        _when("used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["second_factor_challenge_id"],
            ["second_factor_challenges.id"],
            name=op.f("fk_webauthn_challenges_second_factor_challenge_id_second_factor_challenges"),
            ondelete="CASCADE",
        ),
        _user_fk("webauthn_challenges"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webauthn_challenges")),
        sqlite_autoincrement=True,  # ids are never reused (0003)
    )
    op.create_index(
        "ix_webauthn_challenges_by_challenge_hash",
        "webauthn_challenges",
        ["challenge_hash"],
        unique=False,
        postgresql_using="hash",
    )
    op.create_index(op.f("ix_webauthn_challenges_expiry"), "webauthn_challenges", ["expiry"], unique=False)
    op.create_index(
        op.f("ix_webauthn_challenges_second_factor_challenge_id"),
        "webauthn_challenges",
        ["second_factor_challenge_id"],
        unique=False,
    )
    op.create_index(op.f("ix_webauthn_challenges_user_id"), "webauthn_challenges", ["user_id"], unique=False)

    op.add_column("sessions", sa.Column("aal", sa.Integer(), server_default="1", nullable=False))
    op.add_column("sessions", sa.Column("factors", sa.String(length=100), server_default="", nullable=False))
    op.add_column("sessions", _when("authenticated_at", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("authenticated_at")
        batch_op.drop_column("factors")
        batch_op.drop_column("aal")
    op.drop_table("webauthn_challenges")
    op.drop_table("second_factor_challenges")
    op.drop_table("recovery_codes")
    op.drop_table("webauthn_credentials")
    op.drop_table("totp_factors")
