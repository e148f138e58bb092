"""security hardening: subscribers' public ids

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02 09:00:00

"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def _fill_public_ids() -> None:
    # The random id links name a subscriber by; every existing row gets its own.
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM subscriber"))]
    for start in range(0, len(ids), 1000):
        bind.execute(sa.text("UPDATE subscriber SET public_id = :public_id WHERE id = :id"),
                     [{"id": i, "public_id": secrets.token_urlsafe(12)}
                      for i in ids[start:start + 1000]])


def upgrade():
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
    _fill_public_ids()
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_subscriber_public_id"), ["public_id"])


def downgrade():
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_subscriber_public_id"), type_="unique")
        batch_op.drop_column("public_id")
