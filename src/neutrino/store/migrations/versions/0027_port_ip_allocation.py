"""ports.ip_allocation (extension ``ip_allocation``): how the port's addresses were decided at
create, ``immediate`` (IPAM ran) or ``none`` (``fixed_ips: []`` asked for no address).
Ports made before this column showed ``immediate``, and keep it.

Revision ID: 0027
Revises: 0029
Create Date: 2026-12-04 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "ip_allocation",
                sa.String(length=16),
                server_default=sa.text("'immediate'"),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.drop_column("ip_allocation")
