"""rbac_policies: Neutron's RBAC policies (``access_as_shared``, ``access_as_external``).

A network's ``shared`` flag is the wildcard ``access_as_shared`` policy, and an external
network is shared to every project by a wildcard ``access_as_external`` policy, as in Neutron:
existing shared and external networks get theirs, owned by the network's project.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:50:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "rbac_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target_project", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "object_type", "object_id", "action", "target_project", name="uq_rbac_policies_target"
        ),
    )
    with op.batch_alter_table("rbac_policies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rbac_policies_object_target", ["object_id", "target_project"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rbac_policies_project_id"), ["project_id"], unique=False
        )
    conn = op.get_bind()
    rows = []
    for net_id, project, shared, external in conn.execute(
        sa.text("SELECT id, project_id, shared, router_external FROM networks")
    ):
        for action, flag in (("access_as_shared", shared), ("access_as_external", external)):
            if flag:
                rows.append(
                    {
                        "id": str(uuid.uuid4()),
                        "project_id": project,
                        "object_type": "network",
                        "object_id": net_id,
                        "action": action,
                        "target_project": "*",
                    }
                )
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    with op.batch_alter_table("rbac_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rbac_policies_project_id"))
        batch_op.drop_index("ix_rbac_policies_object_target")
    op.drop_table("rbac_policies")
