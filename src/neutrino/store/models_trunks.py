"""Trunks, their sub-ports, and network segments (shared ``Base``; imported by ``models``).

A trunk is a parent port plus sub-ports, each a port of its own tagged with a VLAN id on the
parent's wire. The unique constraints are the race guards Neutron's objects have: a port
parents at most one trunk (``trunks.port_id``), is a sub-port of at most one trunk
(``trunk_subports.port_id`` is the key), and one trunk never carries two sub-ports on one
(segmentation_type, segmentation_id). Ports in a trunk cannot be deleted (``RESTRICT``): the
port service refuses first with Neutron's 409, the keys only back that up.

``status`` is stored, and rewritten in the same transaction as whatever it follows (the
parent's binding, the sub-ports' bindings): see ``service.trunk_binding``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import Base, StandardAttrs


class Trunk(StandardAttrs, Base):
    __tablename__ = "trunks"
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="RESTRICT"), unique=True)


class TrunkSubPort(Base):
    __tablename__ = "trunk_subports"
    __table_args__ = (UniqueConstraint("trunk_id", "segmentation_type", "segmentation_id"),)
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="RESTRICT"), primary_key=True
    )
    trunk_id: Mapped[str] = mapped_column(ForeignKey("trunks.id", ondelete="CASCADE"), index=True)
    segmentation_type: Mapped[str] = mapped_column(String(32))
    segmentation_id: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)


class NetworkSegment(StandardAttrs, Base):
    """A segment of a network (extension ``segment``). The network row keeps its first
    segment's type/physnet/id (what binding and host state read, and what
    ``segment_allocations`` guards); every segment, the first included, has a row here so
    ``/v2.0/segments`` can name it. ``project_id`` is the network's (segments have no owner
    of their own in Neutron's API; the change log names the network's project)."""

    __tablename__ = "network_segments"
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    network_type: Mapped[str] = mapped_column(String(32))
    physical_network: Mapped[str | None] = mapped_column(String(64))
    segmentation_id: Mapped[int | None] = mapped_column(Integer)
    segment_index: Mapped[int] = mapped_column(Integer, default=0)
