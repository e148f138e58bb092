"""a visitor's request to follow one incident by email, taken by the worker like a signup

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("subscription_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_subscription_request_incident_id_incident"),
                                    "incident", ["incident_id"], ["id"], ondelete="CASCADE")
        batch_op.create_index(batch_op.f("ix_subscription_request_incident_id"),
                              ["incident_id"], unique=False)


def downgrade():
    # A request to follow an incident means nothing to the schema before this one.
    op.execute("DELETE FROM subscription_request WHERE incident_id IS NOT NULL")
    with op.batch_alter_table("subscription_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_request_incident_id"))
        batch_op.drop_constraint(batch_op.f("fk_subscription_request_incident_id_incident"),
                                 type_="foreignkey")
        batch_op.drop_column("incident_id")
