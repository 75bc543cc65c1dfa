"""L3 HA: routers.ha and ha_vr_id; router_l3_bindings keyed by (router, host) with ha_state.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("routers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ha", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("ha_vr_id", sa.Integer(), nullable=True))
        batch_op.create_index("uq_routers_ha_vr_id", ["project_id", "ha_vr_id"], unique=True)
    # the primary key widens from (router_id) to (router_id, host): a new table, rows copied
    op.create_table(
        "router_l3_bindings_new",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("ha_state", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("router_id", "host"),
    )
    op.execute(
        "INSERT INTO router_l3_bindings_new (router_id, host) "
        "SELECT router_id, host FROM router_l3_bindings"
    )
    with op.batch_alter_table("router_l3_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_router_l3_bindings_host"))
    op.drop_table("router_l3_bindings")
    op.rename_table("router_l3_bindings_new", "router_l3_bindings")
    with op.batch_alter_table("router_l3_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_router_l3_bindings_host"), ["host"], unique=False)


def downgrade() -> None:
    op.create_table(
        "router_l3_bindings_old",
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["router_id"], ["routers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("router_id"),
    )
    op.execute(
        "INSERT INTO router_l3_bindings_old (router_id, host) "
        "SELECT router_id, MIN(host) FROM router_l3_bindings GROUP BY router_id"
    )
    with op.batch_alter_table("router_l3_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_router_l3_bindings_host"))
    op.drop_table("router_l3_bindings")
    op.rename_table("router_l3_bindings_old", "router_l3_bindings")
    with op.batch_alter_table("router_l3_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_router_l3_bindings_host"), ["host"], unique=False)
    with op.batch_alter_table("routers", schema=None) as batch_op:
        batch_op.drop_index("uq_routers_ha_vr_id")
        batch_op.drop_column("ha_vr_id")
        batch_op.drop_column("ha")
