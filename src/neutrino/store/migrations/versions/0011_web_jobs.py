"""web_jobs: the web UI's long operations, kept in the database so that every server
process (``serve --workers N``, replicas on one PostgreSQL) shows their progress.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:31:19
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("back", sa.Text(), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("web_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_web_jobs_owner_created", ["user_id", "project_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("web_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_web_jobs_owner_created")

    op.drop_table("web_jobs")
