"""Service flavors (extensions ``flavors`` and ``l3-flavors``; on the shared ``Base``,
imported by ``models``): operator-curated choices of a service's provider.

A flavor names a service type (``L3_ROUTER_NAT`` for routers) and is bound to service
profiles; a profile names the provider's driver (or only carries ``metainfo``). Neither has a
project nor standard attributes (no revision, no timestamps), as in Neutron. A router's
``flavor_id`` (``models_l3``) is not a foreign key: the flavor service refuses the delete of a
flavor a router uses (409 ``FlavorInUse``) after locking the flavor row that a router create
share-locks.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import Base


class Flavor(Base):
    __tablename__ = "flavors"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(1024))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    service_type: Mapped[str | None] = mapped_column(String(36))


class ServiceProfile(Base):
    __tablename__ = "serviceprofiles"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(1024))
    driver: Mapped[str] = mapped_column(String(1024))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    metainfo: Mapped[str | None] = mapped_column(String(4096))


class FlavorServiceProfileBinding(Base):
    __tablename__ = "flavorserviceprofilebindings"
    flavor_id: Mapped[str] = mapped_column(
        ForeignKey("flavors.id", ondelete="CASCADE"), primary_key=True
    )
    service_profile_id: Mapped[str] = mapped_column(
        ForeignKey("serviceprofiles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SubnetServiceType(Base):
    """A subnet's ``service_types`` (extension ``subnet-service-types``): the device owners
    whose ports take addresses from it (``service.ipam``)."""

    __tablename__ = "subnet_service_types"
    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    )
    service_type: Mapped[str] = mapped_column(String(255), primary_key=True)
