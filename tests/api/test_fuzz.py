"""The fuzz suite: ≥ 10,000 hostile requests per backend over real keep-alive HTTP, and not
one answer ≥ 500 nor one dropped connection.

A live uvicorn server (tests/live.py) on the test's database (SQLite, and PostgreSQL when
``NEUTRINO_TEST_PG_URL`` is set) holds a few real resources of each kind (``fuzz_world``);
``fuzzing.Fuzzer`` makes requests for every public operation of /openapi.json in turn: every
Neutron collection, member, action and tag route, every Keystone route. One httpx client with a
single keep-alive connection sends them all (every ``REPLENISH`` requests the world gets fresh
resources, since the fuzz deletes them); a connection the server closed (a reset, an
error mid-response, ``Connection: close``, or a new connection opened where the old one should
have been reused) counts as dropped.

Seeded: ``NEUTRINO_FUZZ_SEED`` (else a random seed, printed); ``NEUTRINO_FUZZ_REQUESTS``
changes the count (default 10,000). A failing request is printed in full with its index, so
``NEUTRINO_FUZZ_SEED=<seed>`` replays the same sequence.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from tests.api.fuzz_world import World
from tests.api.fuzzing import Fuzzer, FuzzRequest

REQUESTS = int(os.environ.get("NEUTRINO_FUZZ_REQUESTS", "10000"))
SHOWN = 20  # failures printed in full
REPLENISH = 500  # requests between two rounds of fresh resources (the fuzz deletes them)


@dataclass
class Outcome:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    dropped: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


@pytest.fixture
def world(settings: Settings, store: Store) -> Iterator[World]:
    from tests.live import live_server

    with live_server(settings, store) as url:
        yield World(url)


def run(world: World, seed: int, count: int) -> Outcome:
    document = httpx.get(world.base + "/openapi.json").json()
    fuzzer = Fuzzer(
        random.Random(seed),
        document,
        world.ids,
        {"admin": world.admin, "member": world.member, "victim": world.victim},
    )
    out = Outcome()
    streams: list[object] = []  # held, so that no id() of a closed stream is reused
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    started = time.monotonic()
    with httpx.Client(base_url=world.base, limits=limits, timeout=30) as client:
        for index in range(count):
            if index and index % REPLENISH == 0:
                world.replenish(client)
            req = fuzzer.request(index)
            try:
                response = send(client, req)
            except httpx.TransportError as exc:
                out.sent += 1
                out.dropped += 1
                out.failures.append(f"#{index} connection lost ({exc!r}):\n{req.describe()}")
                continue
            out.sent += 1
            out.statuses[response.status_code] += 1
            out.operations[req.operation] += 1
            stream = response.extensions.get("network_stream")
            if not any(s is stream for s in streams):
                streams.append(stream)
                out.connections += 1
            if response.status_code >= 500:
                out.failures.append(
                    f"#{index} answered {response.status_code}:\n"
                    f"{req.describe()}\n  response={response.text[:500]}"
                )
            # a 413 closes by design: the body over the limit is left unread (api/guard.py)
            closed = response.headers.get("connection", "").lower() == "close"
            if closed and response.status_code != 413:
                out.dropped += 1
                out.failures.append(f"#{index} Connection: close:\n{req.describe()}")
    out.seconds = time.monotonic() - started
    return out


def send(client: httpx.Client, req: FuzzRequest) -> httpx.Response:
    return client.request(
        req.method, req.path, params=req.query, headers=req.headers, content=req.body
    )


def test_fuzz(world: World, db_url: str) -> None:
    seed = int(os.environ.get("NEUTRINO_FUZZ_SEED", random.randrange(2**32)))
    backend = db_url.split(":", 1)[0]
    print(f"\nfuzz: seed {seed} on {backend} (NEUTRINO_FUZZ_SEED={seed} to replay)")
    cpu = time.process_time()
    out = run(world, seed, REQUESTS)
    cpu = time.process_time() - cpu
    print(
        f"fuzz: {out.sent} requests in {out.seconds:.1f} s ({out.sent / out.seconds:.0f}/s, "
        f"process CPU {cpu:.1f} s), {len(out.operations)} operations, "
        f"{out.connections} connection(s), {out.dropped} dropped, statuses "
        f"{dict(sorted(out.statuses.items()))}"
    )
    header = f"seed {seed}: {len(out.failures)} failure(s), the first {SHOWN}:\n\n"
    assert out.failures == [], header + "\n\n".join(out.failures[:SHOWN])
    assert out.dropped == 0
    # one keep-alive connection carried every request, but for a new one after each 413
    assert out.connections == 1 + out.statuses[413]
    assert out.sent >= REQUESTS
    # Every public operation was exercised, and enough requests got past validation to
    # reach the services (a fuzz that only ever hits 400s proves little).
    document = httpx.get(world.base + "/openapi.json").json()
    public = {
        f"{m.upper()} {p}"
        for p, ops in document["paths"].items()
        for m, op in ops.items()
        if not op.get("x-internal")
    }
    assert set(out.operations) == public
    succeeded = sum(n for status, n in out.statuses.items() if status < 300)
    assert succeeded > out.sent * 0.05, out.statuses
    r = httpx.get(world.base + "/v2.0/networks", headers={"X-Auth-Token": world.admin})
    assert r.status_code == 200
