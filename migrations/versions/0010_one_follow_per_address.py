"""one open follow of an incident per address

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OPEN_FOLLOW = "channel = 'email' AND incident_id IS NOT NULL AND ended_at IS NULL"


def upgrade():
    # Two workers taking two requests of one new address at once could each add a follower:
    # end all but the oldest (ending keeps their deliveries and links as they were).
    op.execute(
        "UPDATE subscriber SET ended_at = CURRENT_TIMESTAMP "
        f"WHERE {OPEN_FOLLOW} AND id > (SELECT MIN(first.id) FROM subscriber AS first "
        "WHERE first.channel = 'email' AND first.ended_at IS NULL "
        "AND first.incident_id = subscriber.incident_id AND first.email = subscriber.email)")
    op.create_index("uq_subscriber_follow", "subscriber", ["incident_id", "email"], unique=True,
                    sqlite_where=sa.text(OPEN_FOLLOW), postgresql_where=sa.text(OPEN_FOLLOW))


def downgrade():
    op.drop_index("uq_subscriber_follow", table_name="subscriber")
