"""kernel_checks: a trace's verify in flight, shared by every server process (one row per
host asked; see ``store/models_checks.py``).

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-03 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kernel_checks",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("filed_at", sa.Float(), nullable=False),
        sa.Column("taken", sa.Boolean(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("kernel_checks", schema=None) as batch_op:
        batch_op.create_index("ix_kernel_checks_host", ["host", "taken"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kernel_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_kernel_checks_host")
    op.drop_table("kernel_checks")
