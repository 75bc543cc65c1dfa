"""Router / L3 tables (defined on the shared ``Base``; imported by ``models``).

A router's ports are ordinary ``ports`` rows (device_id = router id); ``router_ports`` says
which of them belong to which router and how (``network:router_interface`` or
``network:router_gateway``), as Neutron's ``routerports`` does. Deleting a port row removes
its ``router_ports`` row (ON DELETE CASCADE); deleting a router removes its routes.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import Base, StandardAttrs


class Router(StandardAttrs, Base):
    __tablename__ = "routers"
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    gw_port_id: Mapped[str | None] = mapped_column(
        ForeignKey("ports.id", ondelete="SET NULL"), index=True
    )
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)


class RouterPort(Base):
    __tablename__ = "router_ports"
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    router_id: Mapped[str] = mapped_column(
        ForeignKey("routers.id", ondelete="CASCADE"), index=True
    )
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
