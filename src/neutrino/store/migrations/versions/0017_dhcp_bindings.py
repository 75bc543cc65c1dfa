"""dhcp_bindings: which hosts' DHCP agents serve a network (extension
``dhcp_agent_scheduler``), kept apart from the DHCP ports so that an admin can add a network
to an agent before it has a subnet. Existing DHCP ports become bindings.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 15:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dhcp_bindings",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("network_id", "host"),
    )
    with op.batch_alter_table("dhcp_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dhcp_bindings_host"), ["host"], unique=False)
    op.execute(
        "INSERT INTO dhcp_bindings (network_id, host) SELECT DISTINCT network_id, "
        "binding_host_id FROM ports WHERE device_owner = 'network:dhcp' AND binding_host_id <> ''"
    )


def downgrade() -> None:
    with op.batch_alter_table("dhcp_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dhcp_bindings_host"))
    op.drop_table("dhcp_bindings")
