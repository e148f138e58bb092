"""subscriber languages, subscription requests, incident templates, reminder leads

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        # Everyone who subscribed before languages existed read English.
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=False,
                                      server_default="en"))
    op.create_table(
        "subscription_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("all_components", sa.Boolean(), nullable=False),
        sa.Column("component_ids", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"],
                                name=op.f("fk_subscription_request_subscriber_id_subscriber"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_request")),
    )
    with op.batch_alter_table("subscription_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_request_subscriber_id"),
                              ["subscriber_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscription_request_processed_at"),
                              ["processed_at"], unique=False)
    op.create_table(
        "incident_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("component_statuses", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_template")),
        sa.UniqueConstraint("name", name=op.f("uq_incident_template_name")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        # None: the page's MAINTENANCE_REMINDER_MINUTES, as before.
        batch_op.add_column(sa.Column("reminder_minutes", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("reminder_minutes")
    op.drop_table("incident_template")
    with op.batch_alter_table("subscription_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_request_processed_at"))
        batch_op.drop_index(batch_op.f("ix_subscription_request_subscriber_id"))
    op.drop_table("subscription_request")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_column("language")
