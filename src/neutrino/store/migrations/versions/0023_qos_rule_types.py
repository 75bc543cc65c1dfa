"""qos rule types beyond bandwidth limits

Revision ID: 0023
Revises: 0025
Create Date: 2026-12-03 23:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rule_table(name: str, *columns: sa.Column[Any], unique: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("qos_policy_id", sa.String(length=36), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["qos_policy_id"], ["qos_policies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*unique),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_qos_policy_id"), ["qos_policy_id"])


TABLES = (
    "qos_dscp_marking_rules",
    "qos_minimum_bandwidth_rules",
    "qos_minimum_packet_rate_rules",
)


def upgrade() -> None:
    _rule_table(
        "qos_dscp_marking_rules",
        sa.Column("dscp_mark", sa.Integer(), nullable=False),
        unique=("qos_policy_id",),
    )
    _rule_table(
        "qos_minimum_bandwidth_rules",
        sa.Column("min_kbps", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        unique=("qos_policy_id", "direction"),
    )
    _rule_table(
        "qos_minimum_packet_rate_rules",
        sa.Column("min_kpps", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        unique=("qos_policy_id", "direction"),
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_qos_policy_id"))
        op.drop_table(name)
