"""Long operations with a progress page: bulk deletes, a router's gateway set or cleared, the
vmm's provider calls (test connection, import, VM start/stop/migrate).

A form that starts one gets a 303 to ``/ui/jobs/{id}`` at once; the steps run one after the
other in a worker thread. The job page shows a ``<progress>`` bar, each step's state and, for a
step that failed, Neutron's message (its type and text; any other exception is a bug of ours:
logged with its traceback on the server, shown as a one-line "internal error" on the page).
Without JavaScript the page refreshes itself each second while the job runs (a ``<meta
refresh>`` inside ``<noscript>``); with it, ``ui.js`` polls ``/ui/jobs/{id}/state`` and moves
the bar in place, then reloads the page once the job is over.

Jobs live in the server's memory (the last ``KEEP``, per server process): a job belongs to the
session that started it (user and project), and any other caller gets a 404 for it. A job is
not a transaction: the steps that succeeded before a failure stay done, as when the same
deletes are sent one by one to the API.
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from neutrino.common.errors import InvalidInput, NeutrinoError, ResourceNotFound
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, current, form_lists

log = logging.getLogger(__name__)
router = APIRouter()
KEEP = 100

WAITING, RUNNING, DONE, FAILED = "waiting", "running", "done", "failed"


@dataclass
class Step:
    label: str
    run: Callable[[], object]  # what it returns, when a string, is shown as its outcome
    state: str = WAITING
    error_type: str = ""
    message: str = ""


@dataclass
class Job:
    id: str
    owner: tuple[str, str]  # (user id, project id) of the session that started it
    title: str
    back: str  # the page to go back to
    steps: list[Step]
    started: float = field(default_factory=time.time)
    finished: bool = False

    def count(self, state: str) -> int:
        return sum(1 for s in self.steps if s.state == state)

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "total": len(self.steps),
            "done": self.count(DONE),
            "failed": self.count(FAILED),
            "finished": self.finished,
            "steps": [
                {"label": s.label, "state": s.state, "type": s.error_type, "message": s.message}
                for s in self.steps
            ],
        }

    def run(self) -> None:
        for step in self.steps:
            step.state = RUNNING
            try:
                outcome = step.run()
            except NeutrinoError as exc:
                step.state, step.error_type, step.message = FAILED, exc.type, exc.message
            except Exception:  # a bug of ours: the server's log has it, the page one line
                log.exception("web job %s: step %r failed", self.id, step.label)
                step.state, step.error_type = FAILED, "InternalError"
                step.message = "Internal error: the server's log has the details."
            else:
                step.state = DONE
                if isinstance(outcome, str):
                    step.message = outcome
        self.finished = True


class Jobs:
    """The server's recent jobs, oldest dropped first past ``KEEP``."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, me: Session, title: str, back: str, steps: list[Step]) -> Job:
        job = Job(secrets.token_urlsafe(12), _owner(me), title, back, steps)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                self._jobs.popitem(last=False)
        threading.Thread(target=job.run, name=f"web-job-{job.id}", daemon=True).start()
        return job

    def get(self, me: Session, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.owner != _owner(me):
            raise ResourceNotFound("Job", job_id)
        return job


def _owner(me: Session) -> tuple[str, str]:
    return (me.ctx.user_id, me.ctx.project_id)


def jobs(request: Request) -> Jobs:
    return request.app.state.web_jobs  # type: ignore[no-any-return]


def launch(request: Request, me: Session, title: str, back: str, steps: list[Step]) -> Response:
    """Starts the job and sends the browser to its progress page."""
    job = jobs(request).start(me, title, back, steps)
    return RedirectResponse(f"/ui/jobs/{job.id}", status_code=303)


async def delete_selected(
    request: Request,
    what: str,
    back: str,
    names: Callable[[Session], dict[str, str]],
    delete: Callable[[Session, str], object],
) -> Response:
    """The bulk delete of a list page: the checked ``id`` boxes, one step each."""
    me = current(request)
    ids = list(dict.fromkeys((await form_lists(request)).get("id", [])))
    if not ids:
        raise InvalidInput(f"Select the {what}s to delete first.")
    known = names(me)
    steps = [
        Step(f"Delete {what} {known.get(rid) or rid}", functools.partial(delete, me, rid))
        for rid in ids
    ]
    return launch(
        request, me, f"Delete {len(ids)} {what}{'s' if len(ids) > 1 else ''}", back, steps
    )


@router.get("/ui/jobs/{job_id}")
@guarded
async def show_job(request: Request, job_id: str) -> Response:
    me = current(request)
    job = jobs(request).get(me, job_id)
    return page(request, me, "job.html", job=job, state=job.state())


@router.get("/ui/jobs/{job_id}/state")
@guarded
async def job_state(request: Request, job_id: str) -> Response:
    me = current(request)
    return JSONResponse(jobs(request).get(me, job_id).state())
