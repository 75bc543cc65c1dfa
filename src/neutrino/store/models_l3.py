"""Router / L3 tables (defined on the shared ``Base``; imported by ``models``).

A router's ports are ordinary ``ports`` rows (device_id = router id); ``router_ports`` says
which of them belong to which router and how (``network:router_interface`` or
``network:router_gateway``), as Neutron's ``routerports`` does. Deleting a port row removes
its ``router_ports`` row (ON DELETE CASCADE); deleting a router removes its routes.

A floating IP owns a port on its external network (``floating_port_id``, device_owner
``network:floatingip``, project ''); deleting that port deletes the floating IP. While
associated, ``fixed_port_id``/``fixed_ip_address`` name the internal port and address and
``router_id`` the router that NATs it (all three NULL when not associated); the unique key
allows one floating IP per (external network, fixed port, fixed address), as Neutron does.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import UUID_LEN, Base, StandardAttrs


class Router(StandardAttrs, Base):
    """``ha``: highly available (``l3-ha``): hosted by several L3 agents at once, VRRP
    (keepalived) deciding which one forwards; ``ha_vr_id`` its VRRP router id, unique among
    the HA routers of its project (they share the project's HA network)."""

    __tablename__ = "routers"
    __table_args__ = (Index("uq_routers_ha_vr_id", "project_id", "ha_vr_id", unique=True),)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    gw_port_id: Mapped[str | None] = mapped_column(
        ForeignKey("ports.id", ondelete="SET NULL"), index=True
    )
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    ha: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ha_vr_id: Mapped[int | None] = mapped_column(Integer)
    # a JSON list, at most 255 characters as in Neutron (router_availability_zone)
    availability_zone_hints: Mapped[str | None] = mapped_column(String(255), default="")
    # l3-flavors: the flavor it was made with (``models_flavors``; not a foreign key, see there)
    flavor_id: Mapped[str | None] = mapped_column(String(36), index=True)


class RouterPort(Base):
    __tablename__ = "router_ports"
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    router_id: Mapped[str] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"), index=True)
    port_type: Mapped[str] = mapped_column(String(255))


class RouterRoute(Base):
    """An extra route (``extraroute``): destination CIDR via a next hop on a connected
    subnet."""

    __tablename__ = "router_routes"
    router_id: Mapped[str] = mapped_column(
        ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True
    )
    destination: Mapped[str] = mapped_column(String(64), primary_key=True)
    nexthop: Mapped[str] = mapped_column(String(64), primary_key=True)


class FloatingIp(StandardAttrs, Base):
    """A floating IP (``name`` is unused: Neutron floating IPs have none)."""

    __tablename__ = "floating_ips"
    __table_args__ = (
        UniqueConstraint(
            "floating_network_id", "fixed_port_id", "fixed_ip_address", name="uq_floating_ips_fixed"
        ),
    )
    floating_network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    floating_port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), index=True
    )
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    fixed_port_id: Mapped[str | None] = mapped_column(
        ForeignKey("ports.id", ondelete="SET NULL"), index=True
    )
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64))
    router_id: Mapped[str | None] = mapped_column(
        ForeignKey("routers.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    qos_policy_id: Mapped[str | None] = mapped_column(String(UUID_LEN), index=True)


class RouterL3Binding(Base):
    """A host whose L3 agent hosts a router: one row for a legacy router (its ports are
    bound there), one per agent for an HA router (``ha_state`` as its agent last reported
    it: ``active``, ``standby``, NULL before any report). Deleting the router deletes them."""

    __tablename__ = "router_l3_bindings"
    router_id: Mapped[str] = mapped_column(
        ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    ha_state: Mapped[str | None] = mapped_column(String(16))


class PortForwarding(Base):
    """A floating IP port forwarding (``floating-ip-port-forwarding``): ``protocol`` traffic to
    the floating IP's external port range goes to ``internal_ip_address`` (a fixed IP of
    ``internal_port_id``) on the internal range. Single ports are ranges of one port. The
    project is the floating IP's (it never changes). Not a standard-attribute resource in
    Neutron: no revision, no timestamps. Deleting the floating IP or the internal port deletes
    the row (the services delete them first, to log the change)."""

    __tablename__ = "port_forwardings"
    __table_args__ = (
        UniqueConstraint(
            "floatingip_id",
            "protocol",
            "external_port_start",
            "external_port_end",
            name="uq_port_forwardings_external",
        ),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    floatingip_id: Mapped[str] = mapped_column(
        ForeignKey("floating_ips.id", ondelete="CASCADE"), index=True
    )
    internal_port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), index=True
    )
    internal_ip_address: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(16))
    external_port_start: Mapped[int] = mapped_column(Integer)
    external_port_end: Mapped[int] = mapped_column(Integer)
    internal_port_start: Mapped[int] = mapped_column(Integer)
    internal_port_end: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(255), default="")
