"""The RBAC policies table (defined on the shared ``Base``; imported by ``models``).

One row grants ``target_project`` (a project id, or ``*`` for every project) an ``action`` on
one object. The unique key is Neutron's: one policy per (object, action, target). The object is
not a foreign key (policies name objects of several tables): deleting an object deletes its
policies in the same transaction.
"""

from __future__ import annotations

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import UUID_LEN, Base


class RbacPolicy(Base):
    __tablename__ = "rbac_policies"
    __table_args__ = (
        UniqueConstraint(
            "object_type", "object_id", "action", "target_project", name="uq_rbac_policies_target"
        ),
    )
    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(UUID_LEN))
    action: Mapped[str] = mapped_column(String(32))
    target_project: Mapped[str] = mapped_column(String(255))


# Visibility asks "is object X granted to project P": (object, target) answers it from the index.
Index("ix_rbac_policies_object_target", RbacPolicy.object_id, RbacPolicy.target_project)
