"""security hardening: subscribers' public ids and link counts; staff session generations and
two-factor sign-in; the subscribers scope of API keys

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02 09:00:00

"""

import secrets
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _fill(table: str, column: str, value: Callable[[], object]) -> None:
    # Every existing row gets a random value of its own.
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text(f"SELECT id FROM {table}"))]
    for start in range(0, len(ids), 1000):
        bind.execute(sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                     [{"id": i, "value": value()} for i in ids[start:start + 1000]])


def upgrade():
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
    _fill("subscriber", "public_id", lambda: secrets.token_urlsafe(12))
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_subscriber_public_id"), ["public_id"])
        batch_op.add_column(sa.Column("link_count", sa.Integer(), nullable=True))
    # A subscriber who was sent a link has a cooldown running: count it as the first.
    op.execute("UPDATE subscriber SET link_count = "
               "CASE WHEN link_sent_at IS NULL THEN 0 ELSE 1 END")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.alter_column("link_count", existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), nullable=True))
    _fill("staff_user", "session_generation", lambda: secrets.randbelow(2**31 - 1))
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.alter_column("session_generation", existing_type=sa.Integer(), nullable=False)
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "staff_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"],
                                name=op.f("fk_staff_recovery_code_user_id_staff_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_code")),
    )
    with op.batch_alter_table("staff_recovery_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_recovery_code_user_id"), ["user_id"],
                              unique=False)
    op.create_table(
        "staff_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("require_two_factor", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_policy")),
    )


    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscribers", sa.Boolean(), nullable=True))
    # No key made before reaches addresses: an admin makes one with the scope when needed.
    op.execute(sa.text("UPDATE api_key SET subscribers = :no").bindparams(no=False))
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.alter_column("subscribers", existing_type=sa.Boolean(), nullable=False)


def downgrade():
    with op.batch_alter_table("api_key", schema=None) as batch_op:
        batch_op.drop_column("subscribers")
    op.drop_table("staff_policy")
    with op.batch_alter_table("staff_recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_recovery_code_user_id"))
    op.drop_table("staff_recovery_code")
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret")
        batch_op.drop_column("session_generation")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("link_count")
        batch_op.drop_constraint(batch_op.f("uq_subscriber_public_id"), type_="unique")
        batch_op.drop_column("public_id")
