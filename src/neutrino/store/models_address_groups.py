"""Address groups (extension ``address-group``; on the shared ``Base``, imported by
``models``): named sets of CIDRs a security-group rule may name as its remote
(``security_group_rules.remote_address_group_id``).

An address is stored normalised (``192.0.2.7/24`` is ``192.0.2.0/24``), once per group (the
primary key). ``shared`` mirrors a wildcard ``access_as_shared`` RBAC policy, as on networks.
A rule's reference is not a foreign key: the service refuses the delete of a group a rule
names (409 ``AddressGroupInUse``), after locking the group row every rule create share-locks.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import Base, StandardAttrs


class AddressGroup(StandardAttrs, Base):
    __tablename__ = "address_groups"
    description: Mapped[str] = mapped_column(String(1024), default="")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class AddressGroupAddress(Base):
    __tablename__ = "address_group_addresses"
    address_group_id: Mapped[str] = mapped_column(
        ForeignKey("address_groups.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
