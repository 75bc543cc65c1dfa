"""The kernel checks a trace's ``verify`` asks of the agents (defined on the shared ``Base``;
imported by ``models``).

One row per (trace, host) while the trace waits for the host's answer
(``service.kernel_checks``): filed by the server process the trace reached, taken by the
process the host's agent long-polls, answered through any. ``seq`` only grows (SQLite's
``AUTOINCREMENT``, a sequence on PostgreSQL), so a process sees a new check by its ``MAX``.
Not an API resource: not in the change log.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import Base


class KernelCheck(Base):
    __tablename__ = "kernel_checks"
    __table_args__ = {"sqlite_autoincrement": True}
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    filed_at: Mapped[float] = mapped_column(Float)  # epoch seconds (old rows are swept)
    taken: Mapped[bool] = mapped_column(Boolean, default=False)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON (see the service)
    # JSON: what the check asks beyond the drift (a trace's probe packet), None: only the drift
    request: Mapped[str | None] = mapped_column(Text, nullable=True)


Index("ix_kernel_checks_host", KernelCheck.host, KernelCheck.taken)
