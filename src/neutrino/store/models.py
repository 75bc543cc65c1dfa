"""Tables. SQLAlchemy ``Mapped[]`` declarations used for the schema (and Alembic); queries go
through Core on ``Model.__table__`` because the API renders rows straight into wire dicts and
the ORM's identity map would only cost time on 10,000-port lists.

Shapes follow the domain, not Neutron's wire format: one segment per network lives on the
network row (``segment_allocations`` guards its uniqueness), fixed IPs live in
``ip_allocations`` whose primary key (subnet, address) is what makes IPAM race-safe.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

UUID_LEN = 36


class Base(DeclarativeBase):
    # Every model here is a plain Table (no inheritance mapping): say so for the type checker.
    __table__: ClassVar[Table]


class StandardAttrs:
    """Neutron's standard attributes, shared by every top-level networking resource."""

    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class Network(StandardAttrs, Base):
    __tablename__ = "networks"
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    router_external: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    network_type: Mapped[str | None] = mapped_column(String(32))
    physical_network: Mapped[str | None] = mapped_column(String(64))
    segmentation_id: Mapped[int | None] = mapped_column(Integer)
    qos_policy_id: Mapped[str | None] = mapped_column(String(UUID_LEN), index=True)
    # a JSON list, at most 255 characters as in Neutron (network_availability_zone)
    availability_zone_hints: Mapped[str | None] = mapped_column(String(255), default="")
    dns_domain: Mapped[str] = mapped_column(String(255), default="", server_default=text("''"))


class SegmentAllocation(Base):
    """One row per allocated segment; the primary key forbids two networks on one segment.
    Flat segments use segmentation_id 0 and physnets-less types use physical_network ''."""

    __tablename__ = "segment_allocations"
    network_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    physical_network: Mapped[str] = mapped_column(String(64), primary_key=True)
    segmentation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )


class Subnet(StandardAttrs, Base):
    __tablename__ = "subnets"
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    ip_version: Mapped[int] = mapped_column(Integer)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64))
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(32))
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(32))
    subnetpool_id: Mapped[str | None] = mapped_column(String(UUID_LEN))
    segment_id: Mapped[str | None] = mapped_column(String(UUID_LEN))


class AllocationPool(Base):
    __tablename__ = "subnet_allocation_pools"
    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    )
    first_ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_ip: Mapped[str] = mapped_column(String(64))


class DnsNameserver(Base):
    __tablename__ = "subnet_dns_nameservers"
    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class HostRoute(Base):
    __tablename__ = "subnet_host_routes"
    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("subnets.id", ondelete="CASCADE"), primary_key=True
    )
    destination: Mapped[str] = mapped_column(String(64), primary_key=True)
    nexthop: Mapped[str] = mapped_column(String(64), primary_key=True)


class Port(StandardAttrs, Base):
    __tablename__ = "ports"
    __table_args__ = (UniqueConstraint("network_id", "mac_address"),)
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="RESTRICT"), index=True
    )
    mac_address: Mapped[str] = mapped_column(String(32))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    binding_host_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    binding_vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    binding_vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    binding_vif_details: Mapped[str] = mapped_column(Text, default="{}")
    binding_profile: Mapped[str] = mapped_column(Text, default="{}")
    dns_name: Mapped[str] = mapped_column(String(255), default="")
    dns_domain: Mapped[str] = mapped_column(String(255), default="", server_default=text("''"))
    # port-numa-affinity-policy(-socket) and port-device-profile: kept for Nova, not enforced
    numa_affinity_policy: Mapped[str | None] = mapped_column(String(16))
    device_profile: Mapped[str | None] = mapped_column(String(255))
    # ``immediate`` or ``none`` (ip_allocation): decided once, at create
    ip_allocation: Mapped[str] = mapped_column(
        String(16), default="immediate", server_default=text("'immediate'")
    )
    # Set only by the controller's own creators (DHCP, router and floating-IP ports): the
    # agent leaves these unfiltered, never a port that merely claims a ``network:*`` owner.
    system_owned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    qos_policy_id: Mapped[str | None] = mapped_column(String(UUID_LEN), index=True)


class IpAllocation(Base):
    """A fixed IP. The primary key (subnet_id, ip_address) is the IPAM race guard; ``ip_key``
    is the address as fixed-width hex (string order = numeric order), indexed with the subnet
    so IPAM reads the used addresses of a pool range in order without loading them all."""

    __tablename__ = "ip_allocations"
    __table_args__ = (Index("ix_ip_allocations_subnet_key", "subnet_id", "ip_key", unique=True),)
    subnet_id: Mapped[str] = mapped_column(
        ForeignKey("subnets.id", ondelete="RESTRICT"), primary_key=True
    )
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"), index=True)
    network_id: Mapped[str] = mapped_column(String(UUID_LEN), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    ip_key: Mapped[str] = mapped_column(String(32))


class PortSecurityGroup(Base):
    __tablename__ = "port_security_groups"
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    security_group_id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True, index=True)


class AllowedAddressPair(Base):
    __tablename__ = "port_allowed_address_pairs"
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    mac_address: Mapped[str] = mapped_column(String(32), primary_key=True)


class ExtraDhcpOpt(Base):
    __tablename__ = "port_extra_dhcp_opts"
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    opt_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ip_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    opt_value: Mapped[str] = mapped_column(String(255))


class Tag(Base):
    __tablename__ = "tags"
    resource_id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(32))


class Quota(Base):
    __tablename__ = "quotas"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    limit: Mapped[int] = mapped_column(Integer)


class Change(Base):
    """The change log: one row per committed change, in commit order (see unit of work)."""

    __tablename__ = "changes"
    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(UUID_LEN))
    op: Mapped[str] = mapped_column(String(16))
    project_id: Mapped[str] = mapped_column(String(64), default="")
    network_id: Mapped[str | None] = mapped_column(String(UUID_LEN))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Agent(Base):
    """A host agent as it registered (the agent issue fills this through its report API)."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("agent_type", "host"),)
    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    agent_type: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(255), default="")
    host: Mapped[str] = mapped_column(String(255), index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(255), default="")
    configurations: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    heartbeat_timestamp: Mapped[dt.datetime] = mapped_column(DateTime)


class DhcpBinding(Base):
    """A network served by the DHCP agent of a host (extension ``dhcp_agent_scheduler``):
    chosen by the scheduler or by an admin. The host gets a ``network:dhcp`` port on the
    network while the network has a DHCP-enabled subnet."""

    __tablename__ = "dhcp_bindings"
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


# --- identity -------------------------------------------------------------------------------


class Domain(Base):
    __tablename__ = "domains"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("domains.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("domain_id", "name"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(ForeignKey("domains.id"))
    password_hash: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    default_project_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(255))


class Role(Base):
    __tablename__ = "roles"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role_id: Mapped[str] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )


class Revocation(Base):
    """Token revocation events: a token is revoked if its audit id, user or project is named
    here by an event newer than the token."""

    __tablename__ = "revocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # audit | user | project | role | grant
    value: Mapped[str] = mapped_column(String(64))
    issued_before: Mapped[dt.datetime] = mapped_column(DateTime)


Index("ix_changes_resource", Change.resource_type, Change.resource_id)
Index("ix_subnets_subnetpool", Subnet.subnetpool_id)


# Tables of other domains live in their own modules on the same Base; importing them here
# puts them into ``Base.metadata`` for create_all and Alembic.
from neutrino.store import (  # noqa: E402, F401
    models_address_groups,
    models_auto_allocate,
    models_bindings,
    models_checks,
    models_flavors,
    models_l3,
    models_pools,
    models_qos,
    models_rbac,
    models_security,
    models_segment_ranges,
    models_trunks,
    models_web,
)
