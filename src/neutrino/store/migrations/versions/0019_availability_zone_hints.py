"""networks.availability_zone_hints and routers.availability_zone_hints (extensions
``network_availability_zone``, ``router_availability_zone``): the zones a network's DHCP or a
router should be served from, as a JSON list (at most 255 characters, as Neutron).

Revision ID: 0019
Revises: 0021
Create Date: 2026-12-03 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("networks", "routers")


def upgrade() -> None:
    for table in TABLES:  # nullable: rows made before (or by raw inserts) have no hints
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("availability_zone_hints", sa.String(length=255), nullable=True)
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("availability_zone_hints")
