"""ports.numa_affinity_policy and ports.device_profile (extensions
``port-numa-affinity-policy``, ``port-numa-affinity-policy-socket`` and
``port-device-profile``): what Nova asked of a port, kept and shown, NULL when not given.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 04:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("numa_affinity_policy", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("device_profile", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.drop_column("device_profile")
        batch_op.drop_column("numa_affinity_policy")
