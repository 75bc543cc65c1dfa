"""A bounded schema-driven fuzz of the public API with schemathesis, from /openapi.json.

Every public operation (the agent API is internal and left out) gets schema-valid requests as
the admin with generated path ids, schema-valid requests as a member of another project with
the ids of resources made beforehand (so show/update/delete/actions reach the service instead
of stopping at a 404), and schema-invalid requests as the admin with those ids; all over one
keep-alive HTTP session to a live server. Each answer must
be no 5xx, carry a documented status code and content type, and match the documented body
(the success shape or the error envelope).

Bounded: ``MAX_EXAMPLES`` per operation and run, no shrinking, derandomized (the same cases
every time); under 60 s per backend. ``NEUTRINO_SCHEMATHESIS_EXAMPLES`` raises it for a longer run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from tests.api.fuzz_world import World

MAX_EXAMPLES = int(os.environ.get("NEUTRINO_SCHEMATHESIS_EXAMPLES", "3"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE


@pytest.fixture
def world(settings: Settings, store: Store) -> Iterator[World]:
    from tests.live import live_server

    with live_server(settings, store) as url:
        yield World(url)


def public_operations(base: str) -> list[Any]:
    doc = httpx.get(base + "/openapi.json").json()
    schema = schemathesis.openapi.from_dict(doc).exclude(tag="internal")
    return [result.ok() for result in schema.get_all_operations()]


def fuzz_operation(
    world: World,
    op: Any,
    session: requests.Session,
    token: str,
    mode: schemathesis.GenerationMode,
    known: dict[str, str],
) -> int:
    """``MAX_EXAMPLES`` cases of one operation; returns how many requests were sent."""
    calls = 0
    headers = {"X-Auth-Token": token}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode, path_parameters=known))
    def run(case: schemathesis.Case) -> None:
        nonlocal calls
        response = case.call(base_url=world.base, session=session, headers=headers)
        calls += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
    return calls


def test_schema_driven_fuzz(world: World) -> None:
    operations = public_operations(world.base)
    assert len(operations) > 60
    session = requests.Session()
    started, cpu = time.monotonic(), time.process_time()
    calls = 0
    failures = []
    for op in operations:
        known = world.path_parameters(op.path)
        runs = [
            (POSITIVE, world.admin, {}),
            (POSITIVE, world.member, known),
            (NEGATIVE, world.admin, known),
        ]
        for mode, token, path_parameters in runs:
            try:
                calls += fuzz_operation(world, op, session, token, mode, path_parameters)
            except Unsatisfiable:
                assert mode == NEGATIVE  # nothing to get wrong: a version document
            except (Exception, BaseExceptionGroup) as exc:  # run all, show all
                failures.append(f"{op.method.upper()} {op.path} ({mode}): {exc}")
    print(
        f"schemathesis: {len(operations)} operations, {calls} requests, "
        f"{time.monotonic() - started:.1f} s (process CPU {time.process_time() - cpu:.1f} s)"
    )
    assert failures == [], "\n\n".join(failures)
    assert calls >= len(operations) * MAX_EXAMPLES
