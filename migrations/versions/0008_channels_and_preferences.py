"""subscribers of every channel, preferences, single-incident followers, component notices

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 02:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CHANNELS = ("email", "webhook", "slack", "teams")
IMPACTS = ("none", "minor", "major", "critical", "maintenance")
OLD_NOTICE_KINDS = ("incident_update", "maintenance_reminder")
NOTICE_KINDS = (*OLD_NOTICE_KINDS, "component_update", "postmortem")
OLD_DELIVERY_KINDS = ("confirm", "manage", "incident_update", "maintenance_reminder")
DELIVERY_KINDS = (*OLD_DELIVERY_KINDS, "component_update", "postmortem", "endpoint_disabled")
EMAIL_ONLY = "channel = 'email' AND incident_id IS NULL"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _kinds(table: str, values: tuple[str, ...]) -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table with the new one.
    with op.batch_alter_table(table, schema=None, recreate="auto") as batch_op:
        batch_op.drop_constraint(batch_op.f(f"ck_{table}_kind"), type_="check")
        batch_op.create_check_constraint("kind", _in("kind", values))


def upgrade():
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=32), nullable=False,
                                      server_default="email"))
        batch_op.add_column(sa.Column("endpoint", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("notify_incidents", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column("notify_maintenance", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column("min_impact", sa.String(length=32), nullable=False,
                                      server_default="none"))
        batch_op.add_column(sa.Column("component_events", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column("failures_in_a_row", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=True)
        batch_op.drop_constraint(batch_op.f("uq_subscriber_email"), type_="unique")
        batch_op.create_check_constraint("channel", _in("channel", CHANNELS))
        batch_op.create_check_constraint("min_impact", _in("min_impact", IMPACTS))
        batch_op.create_foreign_key(batch_op.f("fk_subscriber_incident_id_incident"),
                                    "incident", ["incident_id"], ["id"], ondelete="CASCADE")
        batch_op.create_index(batch_op.f("ix_subscriber_endpoint"), ["endpoint"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriber_incident_id"), ["incident_id"],
                              unique=False)
    op.create_index("uq_subscriber_email", "subscriber", ["email"], unique=True,
                    sqlite_where=sa.text(EMAIL_ONLY), postgresql_where=sa.text(EMAIL_ONLY))

    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_change_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notice_status_change_id_component_status_change"),
            "component_status_change", ["status_change_id"], ["id"], ondelete="SET NULL")
    _kinds("notice", NOTICE_KINDS)

    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=32), nullable=False,
                                      server_default="email"))
        batch_op.add_column(sa.Column("last_response", sa.String(length=500), nullable=True))
        batch_op.create_check_constraint("channel", _in("channel", CHANNELS))
        batch_op.drop_index("ix_delivery_status_next_attempt_at_id")
        batch_op.create_index("ix_delivery_channel_status_next_attempt_at_id",
                              ["channel", "status", "next_attempt_at", "id"], unique=False)
    _kinds("delivery", DELIVERY_KINDS)

    # The defaults were for the rows already there; the models set every value from now on.
    for table, columns in (("subscriber", ("channel", "notify_incidents", "notify_maintenance",
                                           "min_impact", "component_events",
                                           "failures_in_a_row")),
                           ("delivery", ("channel",))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(column, server_default=None)


def downgrade():
    op.execute("DELETE FROM delivery WHERE channel <> 'email' OR kind IN "
               "('component_update', 'postmortem', 'endpoint_disabled')")
    op.execute("DELETE FROM notice WHERE kind IN ('component_update', 'postmortem')")
    op.execute("DELETE FROM subscriber WHERE channel <> 'email' OR incident_id IS NOT NULL")
    _kinds("delivery", OLD_DELIVERY_KINDS)
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_channel_status_next_attempt_at_id")
        batch_op.create_index("ix_delivery_status_next_attempt_at_id",
                              ["status", "next_attempt_at", "id"], unique=False)
        batch_op.drop_constraint(batch_op.f("ck_delivery_channel"), type_="check")
        batch_op.drop_column("last_response")
        batch_op.drop_column("channel")

    _kinds("notice", OLD_NOTICE_KINDS)
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notice_status_change_id_component_status_change"), type_="foreignkey")
        batch_op.drop_column("status_change_id")

    op.drop_index("uq_subscriber_email", table_name="subscriber")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriber_incident_id"))
        batch_op.drop_index(batch_op.f("ix_subscriber_endpoint"))
        batch_op.drop_constraint(batch_op.f("fk_subscriber_incident_id_incident"),
                                 type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("ck_subscriber_min_impact"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_subscriber_channel"), type_="check")
        batch_op.create_unique_constraint(batch_op.f("uq_subscriber_email"), ["email"])
        batch_op.alter_column("email", existing_type=sa.String(length=254), nullable=False)
        for column in ("failures_in_a_row", "component_events", "min_impact",
                       "notify_maintenance", "notify_incidents", "ended_at", "incident_id",
                       "secret", "endpoint", "channel"):
            batch_op.drop_column(column)
