"""fenced claims, chunked fan-out, worker progress

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expanded_through", sa.Integer(), nullable=True))

    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.drop_index("ix_delivery_status_next_attempt_at")
        batch_op.create_index(
            "ix_delivery_status_next_attempt_at_id", ["status", "next_attempt_at", "id"],
            unique=False,
        )
        # The unique (subscriber_id, notice_id) index serves every lookup by subscriber.
        batch_op.drop_index("ix_delivery_subscriber_id")

    # Written for every email sent and read by nothing; delivery.sent_at has the same fact.
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("last_sent_at")

    with op.batch_alter_table("worker_heartbeat", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_progress_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("worker_heartbeat", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("last_progress_at")

    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_subscriber_id", ["subscriber_id"], unique=False)
        batch_op.drop_index("ix_delivery_status_next_attempt_at_id")
        batch_op.create_index(
            "ix_delivery_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
        batch_op.drop_column("claim_token")

    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_column("expanded_through")
