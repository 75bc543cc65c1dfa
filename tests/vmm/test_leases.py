"""The auto-sync's leases: one runner per provider and interval among every process sharing
the database (SQLite, and PostgreSQL when NEUTRINO_TEST_PG_URL is set)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from neutrino.vmm.storage import leases
from neutrino.vmm.storage.repo import VmmStore
from neutrino.vmm.usecases.base import ADMIN
from neutrino.vmm.usecases.sync import SyncRunner
from tests.vmm.world import World

ROOT = Path(__file__).resolve().parents[2]


def test_one_claim_at_a_time_then_once_per_interval(vmm_store: VmmStore) -> None:
    t0 = 1_000.0
    assert leases.claim(vmm_store, "job", "a", every=10, ttl=60, now=t0)
    assert not leases.claim(vmm_store, "job", "b", every=10, ttl=60, now=t0 + 1)  # held
    leases.release(vmm_store, "job", "b")  # not b's to release: nothing changes
    assert not leases.claim(vmm_store, "job", "b", every=10, ttl=60, now=t0 + 2)
    leases.release(vmm_store, "job", "a")
    assert not leases.claim(vmm_store, "job", "b", every=10, ttl=60, now=t0 + 9)  # not due
    assert leases.claim(vmm_store, "job", "b", every=10, ttl=60, now=t0 + 10)
    # b dies while running: its claim lapses after the ttl, and a takes over
    assert not leases.claim(vmm_store, "job", "a", every=10, ttl=60, now=t0 + 69)
    assert leases.claim(vmm_store, "job", "a", every=10, ttl=60, now=t0 + 70)
    assert leases.claim(vmm_store, "other", "b", every=10, ttl=60, now=t0 + 70)  # its own
    leases.forget(vmm_store, "job")
    assert leases.claim(vmm_store, "job", "b", every=10, ttl=60, now=t0 + 71)  # a new job


# Each process claims the lease as fast as it can for ``seconds``; a claim it wins is a
# "run" of 30 ms, written down with the claim's time, the run's start and end, then released.
RACER = """
import json, sys, time
from cryptography.fernet import Fernet
from neutrino.vmm.secrets import Cipher
from neutrino.vmm.storage import leases
from neutrino.vmm.storage.repo import VmmStore
url, holder, seconds, every = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
store = VmmStore(url, Cipher(Fernet.generate_key()))
runs, end = [], time.time() + seconds
while time.time() < end:
    now = time.time()
    if leases.claim(store, "sync:p", holder, every=every, ttl=30, now=now):
        start = time.time()
        time.sleep(0.03)
        runs.append([now, start, time.time()])
        leases.release(store, "sync:p", holder)
    time.sleep(0.002)
print(json.dumps(runs))
"""


def test_two_processes_never_run_the_same_job_at_once(vmm_store: VmmStore) -> None:
    url, every, seconds = vmm_store.engines.url, 0.2, 3.0
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, holder, str(seconds), str(every)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for holder in ("proc-a", "proc-b")
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    runs = sorted(tuple(run) for out in outs for run in json.loads(out))
    assert len(runs) >= 5  # the job did run, about every 0.2 s
    assert len(runs) <= seconds / every + 2  # ...and not once per process
    for (claimed1, _, end1), (claimed2, start2, _) in itertools.pairwise(runs):
        assert end1 <= start2  # never two runs at once
        assert claimed2 - claimed1 >= every  # once per interval, whichever process claims


def test_two_runners_sync_a_provider_once(world: World) -> None:
    """Two runners (as two API workers would have) on one database: one sync per interval."""
    pid = world.provider["id"]
    world.vmm.providers.update(ADMIN, pid, {"sync_interval": 60})
    first = SyncRunner(world.vmm.sync, ADMIN)
    second = SyncRunner(world.vmm.sync, ADMIN)
    assert first.holder != second.holder
    now = time.time()
    done = first.run_due(now) + second.run_due(now) + first.run_due(now + 1)
    assert [r.provider for r in done] == [world.provider["name"]]
    assert [r.provider for r in second.run_due(now + 61)] == [world.provider["name"]]
    world.vmm.providers.update(ADMIN, pid, {"sync_interval": 0})  # off: nobody runs it
    assert first.run_due(now + 200) == [] and second.run_due(now + 200) == []
