"""networks.dns_domain and ports.dns_domain (extensions ``dns-integration`` and
``dns-domain-ports``): the DNS domain a user gave a network or a port ('' when none).

Revision ID: 0025
Revises: 0019
Create Date: 2026-12-03 23:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("networks", "ports")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "dns_domain",
                    sa.String(length=255),
                    server_default=sa.text("''"),
                    nullable=False,
                )
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("dns_domain")
