"""address groups (extension ``address-group``): the groups, their addresses, and a rule's
``remote_address_group_id``.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 18:09:15.535926
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "address_groups",
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("address_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_address_groups_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "address_group_addresses",
        sa.Column("address_group_id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["address_group_id"], ["address_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("address_group_id", "address"),
    )
    with op.batch_alter_table("security_group_rules", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("remote_address_group_id", sa.String(length=36), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_security_group_rules_remote_address_group_id"),
            ["remote_address_group_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("security_group_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_group_rules_remote_address_group_id"))
        batch_op.drop_column("remote_address_group_id")

    op.drop_table("address_group_addresses")
    with op.batch_alter_table("address_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_address_groups_project_id"))

    op.drop_table("address_groups")
