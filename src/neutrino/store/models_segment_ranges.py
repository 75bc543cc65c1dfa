"""Network segment ranges (extension ``network-segment-range``; shared ``Base``; imported by
``models``).

A range is a span of segmentation ids of one network type (and physical network for VLAN,
'' otherwise) that tenant networks draw from: ``shared`` ranges serve every project, the
others the project in ``project_id`` ('' on shared ranges). ``default_range`` rows mirror the
configuration (written at start by ``service.segment_ranges.sync_defaults``) and are read-only
through the API. The unique key is Neutron's: one default range per span, and the key a
concurrent start of two servers meets (the loser's transaction retries and finds the row).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import Base, StandardAttrs


class NetworkSegmentRange(StandardAttrs, Base):
    __tablename__ = "network_segment_ranges"
    __table_args__ = (
        UniqueConstraint("default_range", "network_type", "physical_network", "minimum", "maximum"),
    )
    default_range: Mapped[bool] = mapped_column(Boolean, default=False)
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    network_type: Mapped[str] = mapped_column(String(32))
    physical_network: Mapped[str] = mapped_column(String(64), default="")
    minimum: Mapped[int] = mapped_column(Integer)
    maximum: Mapped[int] = mapped_column(Integer)
