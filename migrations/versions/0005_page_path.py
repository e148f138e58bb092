"""page path: Markdown stored rendered, the time of the last change, built answers

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01 23:00:00.000000

Update bodies and postmortems keep their HTML (and updates their plain text) beside the
Markdown, rendered once when written; the rows that exist are rendered here, in batches.
The page settings keep the time of the last page-visible change beside the page version,
filled here once from the tables it used to be computed from on every page build. Built
answers are shared by every web process in page_build.
"""

import sqlalchemy as sa
from alembic import op

from statuspage.markup import stored

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade():
    with op.batch_alter_table("incident_update", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_html", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("body_text", sa.Text(), server_default="", nullable=False))
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postmortem_html", sa.Text(), nullable=True))
    _render_existing_rows()
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_created_at"), ["created_at"], unique=False)
    with op.batch_alter_table("page_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    tables = ("page_settings", "component", "component_group", "incident", "incident_update")
    latest = " UNION ALL ".join(f"SELECT max(updated_at) AS at FROM {name}" for name in tables)
    op.execute(f"UPDATE page_settings SET changed_at = (SELECT max(at) FROM ({latest}) AS t)")
    op.create_table(
        "page_build",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("stamp", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("body_br", sa.LargeBinary(), nullable=True),
        sa.Column("body_gzip", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_build")),
        sa.UniqueConstraint("key", "stamp", name=op.f("uq_page_build_key")),
    )
    with op.batch_alter_table("page_build", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_page_build_built_at"), ["built_at"], unique=False)


def _render_existing_rows():
    connection = op.get_bind()
    updates = sa.table("incident_update", sa.column("id", sa.Integer),
                       sa.column("body", sa.Text), sa.column("body_html", sa.Text),
                       sa.column("body_text", sa.Text))
    incidents = sa.table("incident", sa.column("id", sa.Integer),
                         sa.column("postmortem_body", sa.Text),
                         sa.column("postmortem_html", sa.Text))
    last = 0
    while True:
        rows = connection.execute(
            sa.select(updates.c.id, updates.c.body).where(updates.c.id > last)
            .order_by(updates.c.id).limit(BATCH)).all()
        if not rows:
            break
        for row_id, body in rows:
            rendered = stored(body)
            connection.execute(updates.update().where(updates.c.id == row_id)
                               .values(body_html=rendered.html, body_text=rendered.text))
        last = rows[-1][0]
    drafts = connection.execute(sa.select(incidents.c.id, incidents.c.postmortem_body)
                                .where(incidents.c.postmortem_body.is_not(None))).all()
    for row_id, body in drafts:
        connection.execute(incidents.update().where(incidents.c.id == row_id)
                           .values(postmortem_html=stored(body).html))


def downgrade():
    op.drop_table("page_build")
    with op.batch_alter_table("page_settings", schema=None) as batch_op:
        batch_op.drop_column("changed_at")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_created_at"))
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("postmortem_html")
    with op.batch_alter_table("incident_update", schema=None) as batch_op:
        batch_op.drop_column("body_text")
        batch_op.drop_column("body_html")
