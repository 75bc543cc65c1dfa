"""ip_allocations.ip_key: the address as fixed-width hex, unique per subnet, so IPAM reads the
used addresses of a pool range in numeric order from an index (existing rows are backfilled).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:55:24.589922
"""

import ipaddress
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALLOCS = sa.table(
    "ip_allocations",
    sa.column("subnet_id", sa.String),
    sa.column("ip_address", sa.String),
    sa.column("ip_key", sa.String),
)


def _key(address: str) -> str:
    ip = ipaddress.ip_address(address)
    return format(int(ip), "08x" if ip.version == 4 else "032x")


def upgrade() -> None:
    with op.batch_alter_table("ip_allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip_key", sa.String(length=32), nullable=True))
    conn = op.get_bind()
    for subnet_id, address in conn.execute(sa.select(ALLOCS.c.subnet_id, ALLOCS.c.ip_address)):
        conn.execute(
            sa.update(ALLOCS)
            .where(ALLOCS.c.subnet_id == subnet_id, ALLOCS.c.ip_address == address)
            .values(ip_key=_key(address))
        )
    with op.batch_alter_table("ip_allocations", schema=None) as batch_op:
        batch_op.alter_column("ip_key", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index("ix_ip_allocations_subnet_key", ["subnet_id", "ip_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("ip_allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_ip_allocations_subnet_key")
        batch_op.drop_column("ip_key")
