"""Subnet pools, their prefixes, and address scopes (on the shared ``Base``; imported by
``models``).

A pool's prefixes are rows of ``subnetpool_prefixes``, kept compacted by the service (no two
overlap or could merge). The subnets carved from a pool name it in ``subnets.subnetpool_id``;
what a pool has handed out is therefore the cidrs of those subnets, and the pool row is the
lock every allocation from it takes (``service.subnet_from_pool``). ``shared`` on both tables
mirrors a wildcard ``access_as_shared`` RBAC policy, as ``networks.shared`` does.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import UUID_LEN, Base, StandardAttrs


class AddressScope(StandardAttrs, Base):
    __tablename__ = "address_scopes"
    ip_version: Mapped[int] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class SubnetPool(StandardAttrs, Base):
    __tablename__ = "subnetpools"
    ip_version: Mapped[int] = mapped_column(Integer)
    default_prefixlen: Mapped[int] = mapped_column(Integer)
    min_prefixlen: Mapped[int] = mapped_column(Integer)
    max_prefixlen: Mapped[int] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    default_quota: Mapped[int | None] = mapped_column(Integer)
    address_scope_id: Mapped[str | None] = mapped_column(String(UUID_LEN), index=True)


class SubnetPoolPrefix(Base):
    __tablename__ = "subnetpool_prefixes"
    subnetpool_id: Mapped[str] = mapped_column(
        ForeignKey("subnetpools.id", ondelete="CASCADE"), primary_key=True
    )
    cidr: Mapped[str] = mapped_column(String(64), primary_key=True)
