"""kernel_checks.request: what a check asks beyond the drift (a trace's probe packet).

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-04 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kernel_checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kernel_checks", schema=None) as batch_op:
        batch_op.drop_column("request")
