"""service flavors and profiles (``flavors``), routers.flavor_id (``l3-flavors``) and
subnets' service types (``subnet-service-types``).

Revision ID: 0022
Revises: 0023
Create Date: 2026-12-03 23:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flavors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=1024), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("service_type", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "serviceprofiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=True),
        sa.Column("driver", sa.String(length=1024), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("metainfo", sa.String(length=4096), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "flavorserviceprofilebindings",
        sa.Column("flavor_id", sa.String(length=36), nullable=False),
        sa.Column("service_profile_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["flavor_id"], ["flavors.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["service_profile_id"], ["serviceprofiles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("flavor_id", "service_profile_id"),
    )
    with op.batch_alter_table("flavorserviceprofilebindings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flavorserviceprofilebindings_service_profile_id"),
            ["service_profile_id"],
            unique=False,
        )
    op.create_table(
        "subnet_service_types",
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("service_type", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("subnet_id", "service_type"),
    )
    with op.batch_alter_table("routers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flavor_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_routers_flavor_id"), ["flavor_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("routers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routers_flavor_id"))
        batch_op.drop_column("flavor_id")
    op.drop_table("subnet_service_types")
    with op.batch_alter_table("flavorserviceprofilebindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flavorserviceprofilebindings_service_profile_id"))
    op.drop_table("flavorserviceprofilebindings")
    op.drop_table("serviceprofiles")
    op.drop_table("flavors")
