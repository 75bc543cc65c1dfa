"""The web UI's jobs in the database (real SQLite file and PostgreSQL), as several server
processes see them: a job started through one app is followed on another app on the same
database (page and ``/state``) and is a 404 there for anyone else; a runner's progress is read
by another process while it runs; a job whose runner stops beating shows as interrupted;
expiry keeps each owner's newest jobs and drops old ones."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from neutrino.common.errors import ResourceNotFound
from neutrino.common.settings import Settings
from neutrino.service.web_jobs import WebJobService
from neutrino.store.uow import Store
from neutrino.web.jobs import Runner, Step
from tests.conftest import Caller
from tests.web.conftest import Browser, ui_client
from tests.web.test_jobs import in_use_network

ALICE = ("alice", "p1")
BOB = ("bob", "p1")


@pytest.fixture
def other(settings: Settings) -> Iterator[Store]:
    """A second store on the same database: another server process."""
    s = Store(settings.db_url)
    yield s
    s.dispose()


@pytest.fixture
def other_app(settings: Settings, other: Store) -> Iterator[TestClient]:
    """A second app (another worker of ``serve --workers N``) on the same database."""
    with ui_client(settings, other) as c:
        yield c


def signed_in_on(app: TestClient, browser: Browser) -> Browser:
    """The same browser session, its requests now reaching ``app``."""
    moved = Browser(TestClient(app.app))
    moved.client.cookies = browser.client.cookies
    return moved


def test_a_job_started_on_one_worker_is_followed_on_another(
    admin_browser: Browser, admin_api: Caller, other_app: TestClient
) -> None:
    nets = [admin_api.network(name=f"n{i}")["id"] for i in range(3)]
    busy = in_use_network(admin_api, "busy")
    r = admin_browser.submit("/ui/networks", "/ui/networks/delete", {"id": [*nets, busy["id"]]})
    location = r.headers["location"]
    there = signed_in_on(other_app, admin_browser)
    assert there.get(location).status_code == 200  # at once, running or not
    state = there.finish(location)
    assert (state["total"], state["done"], state["failed"]) == (4, 3, 1)
    assert state["steps"][3]["type"] == "NetworkInUse"
    page = there.get(location).text
    assert "Finished: 3 of 4 done" in page and "NetworkInUse: Unable to complete" in page
    assert 'href="/ui/networks" id="job-back"' in page
    member = admin_api.as_member()
    user = member.get(f"/v3/users/{member.user_id}").json()["user"]["name"]
    project = member.get(f"/v3/projects/{member.project_id}").json()["project"]["name"]
    stranger = Browser(TestClient(other_app.app))
    stranger.login(user, "pw-" + user[2:], project)
    assert stranger.get(location).status_code == 404
    assert stranger.get(location + "/state").status_code == 404


def test_a_job_whose_worker_died_shows_interrupted(
    admin_browser: Browser, other_app: TestClient, store: Store
) -> None:
    r = admin_browser.submit("/ui/networks", "/ui/networks/delete", {"id": "no-such-net"})
    location = r.headers["location"]
    admin_browser.finish(location)
    # what a worker killed in its second step leaves behind: a running job, beats stopped
    job_id = location.rsplit("/", 1)[1]
    steps = [
        {"label": "Delete network a", "state": "done", "type": "", "message": ""},
        {"label": "Delete network b", "state": "running", "type": "", "message": ""},
        {"label": "Delete network c", "state": "waiting", "type": "", "message": ""},
    ]
    WebJobService(store).save(job_id, steps, finished=False)
    there = signed_in_on(other_app, admin_browser)
    running = there.get(location + "/state").json()
    assert not running["finished"] and not running["interrupted"]
    minute_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
    store.write(
        lambda tx: tx.conn.execute(
            text("UPDATE web_jobs SET updated_at = :t WHERE id = :i"),
            {"t": minute_ago, "i": job_id},
        )
    )
    state = there.get(location + "/state").json()
    assert state["finished"] and state["interrupted"]
    assert [s["state"] for s in state["steps"]] == ["done", "interrupted", "interrupted"]
    page = there.get(location).text
    assert "Interrupted:</strong> the server running this operation stopped" in page
    assert "1 of 3 done" in page and 'http-equiv="refresh"' not in page


def wait_for(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_progress_saved_by_one_process_is_read_by_another(store: Store, other: Store) -> None:
    here, there = WebJobService(store), WebJobService(other)
    release = threading.Event()
    steps = [Step("first", lambda: "made"), Step("slow", release.wait), Step("last", lambda: 1)]
    job_id = here.create(ALICE, "Three steps", "/ui", [s.label for s in steps])
    assert [s["state"] for s in there.get(ALICE, job_id).steps] == ["waiting"] * 3
    threading.Thread(target=Runner(here, job_id, steps).run, daemon=True).start()
    wait_for(lambda: there.get(ALICE, job_id).steps[1]["state"] == "running")
    seen = there.get(ALICE, job_id)
    assert not seen.finished and seen.steps[0] == {
        "label": "first",
        "state": "done",
        "type": "",
        "message": "made",
    }
    release.set()
    wait_for(lambda: there.get(ALICE, job_id).finished)
    state = there.get(ALICE, job_id).state()
    assert (state["total"], state["done"], state["failed"], state["interrupted"]) == (
        3,
        3,
        0,
        False,
    )
    with pytest.raises(ResourceNotFound):
        there.get(BOB, job_id)  # same project, another user
    with pytest.raises(ResourceNotFound):
        there.get(("alice", "p2"), job_id)  # same user, another project


def test_a_slow_step_keeps_beating_and_a_dead_runner_shows_interrupted(
    store: Store, other: Store
) -> None:
    stale = dt.timedelta(seconds=1.0)  # ten beats of 0.1 s: generous on a busy machine
    here, there = WebJobService(store), WebJobService(other, stale_after=stale)
    # a live runner whose step outlasts the stale threshold: its heartbeat keeps it running
    slow = [Step("slow", lambda: time.sleep(2.5))]
    alive = here.create(ALICE, "Slow", "/ui", ["slow"])
    threading.Thread(target=Runner(here, alive, slow, heartbeat=0.1).run, daemon=True).start()
    # a runner that died after starting its first step: saved once, never again
    dead = here.create(ALICE, "Dead", "/ui", ["a", "b", "c"])
    here.save(
        dead,
        [
            {"label": "a", "state": "done", "type": "", "message": ""},
            {"label": "b", "state": "running", "type": "", "message": ""},
            {"label": "c", "state": "waiting", "type": "", "message": ""},
        ],
        finished=False,
    )
    assert not there.get(ALICE, dead).interrupted  # not yet stale
    time.sleep(1.5)
    running = there.get(ALICE, alive)
    assert not running.finished and not running.interrupted
    view = there.get(ALICE, dead)
    assert view.finished and view.interrupted
    assert [s["state"] for s in view.steps] == ["done", "interrupted", "interrupted"]
    assert view.state()["done"] == 1
    wait_for(lambda: there.get(ALICE, alive).finished)
    assert not there.get(ALICE, alive).interrupted


def test_expiry_keeps_each_owners_newest_jobs_and_drops_old_ones(store: Store) -> None:
    jobs = WebJobService(store, keep=3)
    bobs = jobs.create(BOB, "Bob's", "/ui", ["x"])
    mine = [jobs.create(ALICE, f"Job {i}", "/ui", ["x"]) for i in range(5)]
    for gone in mine[:2]:
        with pytest.raises(ResourceNotFound):
            jobs.get(ALICE, gone)
    assert [jobs.get(ALICE, j).title for j in mine[2:]] == ["Job 2", "Job 3", "Job 4"]
    assert jobs.get(BOB, bobs).title == "Bob's"  # another owner's count is its own
    with store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM web_jobs")).scalar_one() == 4
    # a job untouched for longer than max_age goes, whoever owns it
    week_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=8)
    store.write(
        lambda tx: tx.conn.execute(
            text("UPDATE web_jobs SET updated_at = :t WHERE id = :i"), {"t": week_ago, "i": bobs}
        )
    )
    jobs.create(ALICE, "Job 5", "/ui", ["x"])
    with pytest.raises(ResourceNotFound):
        jobs.get(BOB, bobs)
    with store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM web_jobs")).scalar_one() == 3
