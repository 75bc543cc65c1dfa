"""A port's inactive bindings (extension ``binding-extended``; shared ``Base``; imported by
``models``).

A port has exactly one ACTIVE binding, and it is the port row's own ``binding_*`` columns:
every reader of a port's host (host state, views, the fast JSON renderer, the DHCP and L3
schedulers) keeps reading only the port. This table holds the others, the INACTIVE bindings a
live migration prepares on its destination (and the source's, after the switch), one per
(port, host): the primary key is what refuses a second binding for one host. They go with
their port (``CASCADE``).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import Base


class PortBinding(Base):
    __tablename__ = "port_bindings"
    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True
    )
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    vif_details: Mapped[str] = mapped_column(Text, default="{}")
    profile: Mapped[str] = mapped_column(Text, default="{}")
