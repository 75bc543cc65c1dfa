"""The isolation matrix: every resource x read/list/update/delete/use x every kind of caller.

One world is built per backend (module scope) through the real API: project A owns a private
network, a shared network, ports, a security group and rule, a router with an interface and a
gateway on the (admin's) external network, a floating IP, tags; project B owns what it needs
to try to *use* A's resources. Then each case is one request by one caller with the exact
status Neutron (or Keystone) gives:

* 404 for what the caller cannot see, 403 for what it can see but may not change, 401 for a
  forged, expired or revoked token;
* lists hold exactly what the caller may see of the world: none of another project's ids, and
  for a caller without a project (unscoped token, user without any role) nothing at all, not
  even the project-less router gateway and floating-IP ports;
* admin is the control: the same requests succeed for it.

Callers: ``admin``; ``member_a`` (the owner, control for its own resources); ``reader_a``
(same project, read-only); ``member_b`` and ``reader_b`` (another project); ``unscoped`` (a
user with roles, token without a project); ``noroles`` (a user without any role); ``forged``
(admin claims signed with another key), ``expired``, ``revoked``.

Deletes are only tried where they must fail (the world stays intact); "use" cases create
with someone else's network, subnet, port, router, security group or remote group.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.isolation_cases import CASES, COLLECTIONS, Case, project_of
from tests.api.isolation_world import NO_PROJECT, World, open_world
from tests.conftest import BACKENDS


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with open_world(request.param, tmp_path_factory.mktemp("matrix")) as w:
        yield w


def test_the_matrix_is_large_enough() -> None:
    assert len(CASES) >= 300
    assert len({c.id for c in CASES}) == len(CASES)  # every case is distinct


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_isolation(world: World, case: Case) -> None:
    r = world.call(case.who, case.method, case.path, _fill(case.body, world.ids))
    assert r.status_code == case.status, r.text
    if case.error is not None:
        assert r.json()["NeutronError"]["type"] == case.error, r.text
    if case.listed is not None:
        body = r.json()
        key = _body_key(case.collection)
        found = {x["id"] for x in body[key]}
        world_ids = {world.ids[k]: k for k in COLLECTIONS[case.collection]}
        seen = {world_ids[i] for i in found if i in world_ids}
        assert seen == set(case.listed), (seen, case.listed)
        if case.who in NO_PROJECT:
            assert found == set(), found  # nothing project-owned, nothing project-less
        elif case.who != "admin":
            project = world.ids["project_" + str(project_of(case.who))]
            for item in body[key]:
                if item.get("project_id", project) != project:
                    assert _foreign_visible(world, case, item), item


def _body_key(collection: str) -> str:
    return collection.rsplit("/", 1)[-1].replace("-", "_")


def _foreign_visible(world: World, case: Case, item: dict[str, Any]) -> bool:
    """Another project's item a scoped caller may list: a shared or external network and its
    subnets, a shared subnet pool, address scope or address group (to all or by name), a port
    on a network of the caller's project (Neutron's network-owner rule)."""
    ids = world.ids
    if case.collection in ("subnetpools", "address-scopes", "address-groups", "qos/policies"):
        return bool(item["shared"])
    if case.collection == "networks":  # shared to B by name: shown shared to B
        return bool(item["shared"] or item["router:external"])
    if case.collection == "subnets":
        return item["network_id"] in (ids["shared"], ids["ext"], ids["net_to_b"])
    if case.collection == "ports":
        owned = {"a": (ids["net_a"], ids["shared"], ids["net_to_b"]), "b": (ids["net_b"],)}
        return item["network_id"] in owned[str(project_of(case.who))]
    return False
