"""ports.system_owned: the ports the controller created itself (DHCP, router, floating IP).

The agent leaves these unfiltered; a port that only claims a ``network:*`` device owner is
filtered like any other. Existing ports are marked from what made them: a router's ports
(``router_ports``), floating IPs' own ports, and DHCP ports named the way the DHCP scheduler
names them (``dhcp<host uuid>-<network id>``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("system_owned", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        "UPDATE ports SET system_owned = true WHERE id IN (SELECT port_id FROM router_ports) "
        "OR id IN (SELECT floating_port_id FROM floating_ips) "
        "OR (device_owner = 'network:dhcp' AND device_id LIKE 'dhcp%' "
        "AND device_id LIKE '%-' || network_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.drop_column("system_owned")
