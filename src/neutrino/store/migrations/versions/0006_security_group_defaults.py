"""security groups: default-rule templates (default_security_group_rules), seeded with
Neutron's four legacy templates.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:30:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EGRESS = "Legacy default SG rule for egress traffic"
INGRESS = "Legacy default SG rule for ingress traffic"
# (direction, ethertype, remote_group_id, used_in_default_sg, used_in_non_default_sg, text)
LEGACY = (
    ("egress", "IPv4", None, True, True, EGRESS),
    ("egress", "IPv6", None, True, True, EGRESS),
    ("ingress", "IPv4", "PARENT", True, False, INGRESS),
    ("ingress", "IPv6", "PARENT", True, False, INGRESS),
)


def upgrade() -> None:
    table = op.create_table(
        "default_security_group_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("ethertype", sa.String(length=8), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("used_in_default_sg", sa.Boolean(), nullable=False),
        sa.Column("used_in_non_default_sg", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(
        table,
        [
            {
                "id": str(uuid.uuid4()),
                "description": text,
                "direction": direction,
                "ethertype": ethertype,
                "protocol": None,
                "port_range_min": None,
                "port_range_max": None,
                "remote_ip_prefix": None,
                "remote_group_id": remote,
                "used_in_default_sg": in_default,
                "used_in_non_default_sg": in_other,
            }
            for direction, ethertype, remote, in_default, in_other, text in LEGACY
        ],
    )


def downgrade() -> None:
    op.drop_table("default_security_group_rules")
