"""Long operations with a progress page: bulk deletes, a router's gateway set or cleared, the
vmm's provider calls (test connection, import, VM start/stop/migrate).

A form that starts one gets a 303 to ``/ui/jobs/{id}`` at once; the steps run one after the
other in a thread of the process that accepted the form. The job page shows a ``<progress>``
bar, each step's state and, for a step that failed, Neutron's message (its type and text; any
other exception is a bug of ours: logged with its traceback on the server, shown as a one-line
"internal error" on the page). Without JavaScript the page refreshes itself each second while
the job runs (a ``<meta refresh>`` inside ``<noscript>``); with it, ``ui.js`` polls
``/ui/jobs/{id}/state`` and moves the bar in place, then reloads the page once the job is over.

Jobs are kept in the database (``neutrino.service.web_jobs``): the runner saves each step's
state as it goes and beats while a step is slow, so the page and its poll answer from any
server process (``serve --workers N``, replicas on one PostgreSQL), and a job whose process
died shows as *interrupted* instead of running forever. A job belongs to the session that
started it (user and project): any other caller gets a 404. The owner's last 100 jobs are
kept, none past a week. A job is not a transaction: the steps that succeeded before a failure
stay done, as when the same deletes are sent one by one to the API.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from neutrino.common.errors import InvalidInput, NeutrinoError
from neutrino.service.web_jobs import DONE, FAILED, HEARTBEAT, RUNNING, WAITING, WebJobService
from neutrino.web.render import guarded, page
from neutrino.web.session import Session, current, form_lists, services

log = logging.getLogger(__name__)
router = APIRouter()


@dataclass
class Step:
    label: str
    run: Callable[[], object]  # what it returns, when a string, is shown as its outcome
    state: str = WAITING
    error_type: str = ""
    message: str = ""

    def saved(self) -> dict[str, str]:
        return {
            "label": self.label,
            "state": self.state,
            "type": self.error_type,
            "message": self.message,
        }


@dataclass
class Runner:
    """Runs a job's steps in this process, saving their progress for every process to see."""

    jobs: WebJobService
    job_id: str
    steps: list[Step]
    heartbeat: float = HEARTBEAT

    def run(self) -> None:
        over = threading.Event()
        threading.Thread(
            target=self._beat, args=(over,), name=f"web-job-beat-{self.job_id}", daemon=True
        ).start()
        try:
            for step in self.steps:
                step.state = RUNNING
                self._save(finished=False)
                self._run(step)
        finally:
            over.set()
            self._save(finished=True)

    def _run(self, step: Step) -> None:
        try:
            outcome = step.run()
        except NeutrinoError as exc:
            step.state, step.error_type, step.message = FAILED, exc.type, exc.message
        except Exception:  # a bug of ours: the server's log has it, the page one line
            log.exception("web job %s: step %r failed", self.job_id, step.label)
            step.state, step.error_type = FAILED, "InternalError"
            step.message = "Internal error: the server's log has the details."
        else:
            step.state = DONE
            if isinstance(outcome, str):
                step.message = outcome

    def _save(self, finished: bool) -> None:
        # a database hiccup must not stop the steps: the job then shows stale, as interrupted
        try:
            self.jobs.save(self.job_id, [s.saved() for s in self.steps], finished)
        except Exception:
            log.exception("web job %s: saving its progress failed", self.job_id)

    def _beat(self, over: threading.Event) -> None:
        while not over.wait(self.heartbeat):
            try:
                self.jobs.beat(self.job_id)
            except Exception:
                log.exception("web job %s: heartbeat failed", self.job_id)


def _owner(me: Session) -> tuple[str, str]:
    return (me.ctx.user_id, me.ctx.project_id)


def jobs(request: Request) -> WebJobService:
    return WebJobService(services(request).store)


def launch(request: Request, me: Session, title: str, back: str, steps: list[Step]) -> Response:
    """Starts the job and sends the browser to its progress page."""
    service = jobs(request)
    job_id = service.create(_owner(me), title, back, [s.label for s in steps])
    runner = Runner(service, job_id, steps)
    threading.Thread(target=runner.run, name=f"web-job-{job_id}", daemon=True).start()
    return RedirectResponse(f"/ui/jobs/{job_id}", status_code=303)


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
    job = jobs(request).get(_owner(me), job_id)
    return page(request, me, "job.html", job=job, state=job.state())


@router.get("/ui/jobs/{job_id}/state")
@guarded
async def job_state(request: Request, job_id: str) -> Response:
    me = current(request)
    return JSONResponse(jobs(request).get(_owner(me), job_id).state())
