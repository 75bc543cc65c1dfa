"""A project's auto-allocated topology (extension ``auto-allocated-topology``; shared ``Base``;
imported by ``models``): one row per project, its primary key, naming the network and router
``GET /v2.0/auto-allocated-topology/{project}`` made. The key is the race guard: of two
concurrent first calls for a project, the loser's insert fails, its whole transaction is run
again and finds the winner's topology. The row goes with its network (``CASCADE``); a router
deleted by hand leaves ``router_id`` NULL."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import Base


class AutoAllocatedTopology(Base):
    __tablename__ = "auto_allocated_topologies"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    router_id: Mapped[str | None] = mapped_column(
        ForeignKey("routers.id", ondelete="SET NULL"), index=True
    )
