"""router_l3_bindings: routers scheduled to L3 agents (one host per router).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "router_l3_bindings",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("router_id"),
    )
    with op.batch_alter_table("router_l3_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_router_l3_bindings_host"), ["host"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("router_l3_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_router_l3_bindings_host"))
    op.drop_table("router_l3_bindings")
