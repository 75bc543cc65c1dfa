"""The web UI's jobs table (defined on the shared ``Base``; imported by ``models``).

One row per long operation started from a form (``neutrino.service.web_jobs``): its owner
(user and project of the session), its steps as a JSON list and two timestamps. It is here so
that every server process (``serve --workers N``, replicas on one PostgreSQL) answers a job's
page, whichever one runs the steps. Not an API resource: not in the change log.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import Base


class WebJob(Base):
    __tablename__ = "web_jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    back: Mapped[str] = mapped_column(Text)  # the page the job's "Back" link goes to
    steps: Mapped[str] = mapped_column(Text)  # JSON: [{label, state, type, message}, ...]
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)  # also the runner's heartbeat


# Expiry keeps each owner's newest jobs: (owner, created_at) finds them from the index.
Index("ix_web_jobs_owner_created", WebJob.user_id, WebJob.project_id, WebJob.created_at)
