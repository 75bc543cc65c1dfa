"""The web UI's jobs, kept in the database so that every server process can show them.

``neutrino serve --workers N`` forks N processes, and several servers may share one
PostgreSQL: the process that accepted a form runs the job's steps in a thread of its own, but
the job's page and its ``/state`` poll may reach any of them. So the runner saves each step's
state here as it goes, and every process reads it back from here.

* **Owner.** A job belongs to the session that started it (user and project); for anyone else
  it does not exist (``ResourceNotFound``, a 404 like any object of another project).
* **Heartbeat.** While the job runs, its runner moves ``updated_at`` on every ``HEARTBEAT``
  seconds even when a step is slow. A job not finished whose ``updated_at`` is older than
  ``STALE_AFTER`` lost its runner (the process died or was restarted): it is shown as
  *interrupted*, over, with its unfinished steps marked so, rather than running forever.
* **Expiry.** Starting a job deletes the owner's jobs past its ``KEEP`` newest, and anyone's
  untouched for ``MAX_AGE``: the table stays bounded without a sweeper.

Jobs are not API resources: they are not in the change log.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, replace
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import ResourceNotFound
from neutrino.store import web_jobs as repo
from neutrino.store.uow import Store, Tx

__all__ = ["HEARTBEAT", "JobView", "Owner", "WebJobService"]

WAITING, RUNNING, DONE, FAILED, INTERRUPTED = "waiting", "running", "done", "failed", "interrupted"
KEEP = 100
MAX_AGE = dt.timedelta(days=7)
HEARTBEAT = 5.0  # seconds
STALE_AFTER = dt.timedelta(seconds=30)  # six missed beats

Owner = tuple[str, str]  # (user id, project id) of the session that started the job


@dataclass(frozen=True)
class JobView:
    """A job as its page shows it; ``steps``: ``{label, state, type, message}`` each."""

    id: str
    title: str
    back: str
    steps: list[dict[str, str]]
    finished: bool
    interrupted: bool = False

    def count(self, state: str) -> int:
        return sum(1 for s in self.steps if s["state"] == state)

    def state(self) -> dict[str, Any]:
        """The JSON of ``/ui/jobs/{id}/state``."""
        return {
            "id": self.id,
            "title": self.title,
            "total": len(self.steps),
            "done": self.count(DONE),
            "failed": self.count(FAILED),
            "finished": self.finished,
            "interrupted": self.interrupted,
            "steps": self.steps,
        }


@dataclass
class WebJobService:
    store: Store
    keep: int = KEEP
    max_age: dt.timedelta = MAX_AGE
    stale_after: dt.timedelta = STALE_AFTER

    def create(self, owner: Owner, title: str, back: str, labels: list[str]) -> str:
        """A new job, all steps waiting; its id. Expires old jobs in the same transaction."""
        job_id = secrets.token_urlsafe(12)
        steps = [{"label": x, "state": WAITING, "type": "", "message": ""} for x in labels]
        self.store.write(self._create, job_id, owner, title, back, steps)
        return job_id

    def _create(
        self,
        tx: Tx,
        job_id: str,
        owner: Owner,
        title: str,
        back: str,
        steps: list[dict[str, str]],
    ) -> None:
        now = clock.now()
        repo.expire(tx.conn, *owner, keep=self.keep - 1, before=now - self.max_age)
        row: dict[str, Any] = {
            "id": job_id,
            "user_id": owner[0],
            "project_id": owner[1],
            "title": title,
        }
        row |= {"back": back, "steps": json.dumps(steps), "finished": False}
        repo.add(tx.conn, row | {"created_at": now, "updated_at": now})

    def save(self, job_id: str, steps: list[dict[str, str]], finished: bool) -> None:
        self.store.write(
            lambda tx: repo.save(tx.conn, job_id, json.dumps(steps), finished, clock.now())
        )

    def beat(self, job_id: str) -> None:
        self.store.write(lambda tx: repo.beat(tx.conn, job_id, clock.now()))

    def get(self, owner: Owner, job_id: str) -> JobView:
        with self.store.read() as conn:
            row = repo.get(conn, job_id)
        if row is None or (row["user_id"], row["project_id"]) != owner:
            raise ResourceNotFound("Job", job_id)
        job = JobView(
            row["id"], row["title"], row["back"], json.loads(row["steps"]), row["finished"]
        )
        if job.finished or clock.now() - row["updated_at"] <= self.stale_after:
            return job
        steps = [
            s | {"state": INTERRUPTED} if s["state"] in (WAITING, RUNNING) else s for s in job.steps
        ]
        return replace(job, steps=steps, finished=True, interrupted=True)
