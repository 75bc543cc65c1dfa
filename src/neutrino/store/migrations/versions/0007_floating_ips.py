"""floating_ips: the floating IP API (allocation, association; NAT is the L3 agent's).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "floating_ips",
        sa.Column("floating_network_id", sa.String(length=36), nullable=False),
        sa.Column("floating_port_id", sa.String(length=36), nullable=False),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.Column("fixed_port_id", sa.String(length=36), nullable=True),
        sa.Column("fixed_ip_address", sa.String(length=64), nullable=True),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["fixed_port_id"], ["ports.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["floating_network_id"], ["networks.id"]),
        sa.ForeignKeyConstraint(["floating_port_id"], ["ports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "floating_network_id", "fixed_port_id", "fixed_ip_address", name="uq_floating_ips_fixed"
        ),
    )
    with op.batch_alter_table("floating_ips", schema=None) as batch_op:
        for column in (
            "fixed_port_id",
            "floating_network_id",
            "floating_port_id",
            "project_id",
            "router_id",
        ):
            batch_op.create_index(batch_op.f(f"ix_floating_ips_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("floating_ips", schema=None) as batch_op:
        for column in (
            "fixed_port_id",
            "floating_network_id",
            "floating_port_id",
            "project_id",
            "router_id",
        ):
            batch_op.drop_index(batch_op.f(f"ix_floating_ips_{column}"))
    op.drop_table("floating_ips")
