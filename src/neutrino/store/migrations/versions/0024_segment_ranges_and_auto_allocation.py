"""network_segment_ranges (extension ``network-segment-range``): the segmentation id ranges
tenant networks draw from, default (from configuration), shared or of one project; and
auto_allocated_topologies (extension ``auto-allocated-topology``): each project's network and
router made by ``GET /v2.0/auto-allocated-topology/{project}``. External networks other than
one default keep ``is_default`` false (a default flag only means something on an external
network, and only one may carry it).

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-03 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "network_segment_ranges",
        sa.Column("default_range", sa.Boolean(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("network_type", sa.String(length=32), nullable=False),
        sa.Column("physical_network", sa.String(length=64), nullable=False),
        sa.Column("minimum", sa.Integer(), nullable=False),
        sa.Column("maximum", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "default_range", "network_type", "physical_network", "minimum", "maximum"
        ),
    )
    with op.batch_alter_table("network_segment_ranges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_network_segment_ranges_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "auto_allocated_topologies",
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("project_id"),
    )
    with op.batch_alter_table("auto_allocated_topologies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auto_allocated_topologies_network_id"), ["network_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_auto_allocated_topologies_router_id"), ["router_id"], unique=False
        )
    op.execute(
        sa.text("UPDATE networks SET is_default = :f WHERE router_external = :f").bindparams(
            f=False
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("auto_allocated_topologies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auto_allocated_topologies_router_id"))
        batch_op.drop_index(batch_op.f("ix_auto_allocated_topologies_network_id"))
    op.drop_table("auto_allocated_topologies")
    with op.batch_alter_table("network_segment_ranges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_segment_ranges_project_id"))
    op.drop_table("network_segment_ranges")
