"""Races against 2 API servers x 2 workers on one PostgreSQL, 20 rounds each.

Each round sets the scene sequentially, then several clients (threads, each with its own
connection already open to one of the servers, released together by a barrier) send the
racing requests, and the outcome is checked against what Neutron guarantees: exactly one
delete wins and the others see 404; of two updates of one revision (``If-Match``) one wins and
the others get 412; a quota of 3 lets exactly 3 of 8 concurrent creates through; one fixed IP
goes to exactly one port; one subnet gets one router interface; a subnet (network, security
group) deleted while ports are created on it is either refused as in use or leaves no port
behind that references it; 16 subnet creates from one pool never get overlapping cidrs and
the pool's exhaustion answers 409; a pool deleted while subnets are carved from it is either
refused or leaves no subnet naming it; of overlapping pools joining one address scope, and of
default pools of one ip_version, one wins; of activations of one port binding, one
wins and the port ends bound once. Every round must be correct: one wrong round fails
the test.

Runs only with ``NEUTRINO_TEST_PG_URL`` (the servers are real ``neutrino serve`` processes,
see ``bench/pgcluster.py``). SQLite serializes writers and has no multi-server setup.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.pgcluster import Cluster

from tests.conftest import PG_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs NEUTRINO_TEST_PG_URL"),
]

ROUNDS = 20
MAX_DEADLOCKS = 3  # over all races; 0 is what a run shows, a few would still be "rare"
Request = tuple[str, str, dict[str, Any] | None, dict[str, str] | None]


class Racer:
    """Admin clients spread over the servers; ``race`` sends requests all at once."""

    def __init__(self, cluster: Cluster) -> None:
        self.urls = cluster.urls
        self.headers = {"X-Auth-Token": cluster.token()}
        self.api = httpx.Client(base_url=self.urls[0], headers=self.headers, timeout=60)

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, expect: int | None = None
    ) -> Any:
        r = self.api.request(method, path, json=body)
        if expect is not None:
            assert r.status_code == expect, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def race(self, requests: list[Request]) -> list[httpx.Response]:
        barrier = threading.Barrier(len(requests))
        out: list[httpx.Response | BaseException | None] = [None] * len(requests)

        def run(i: int) -> None:
            method, path, body, extra = requests[i]
            url = self.urls[i % len(self.urls)]
            with httpx.Client(base_url=url, headers=self.headers, timeout=60) as c:
                c.get("/")  # the connection is open (to one of the workers) before the start
                barrier.wait(timeout=30)
                try:
                    out[i] = c.request(method, path, json=body, headers=extra)
                except BaseException as exc:  # reported below, with the round
                    out[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for r in out:
            if not isinstance(r, httpx.Response):
                raise AssertionError(f"a racing request failed: {r!r}")
        return out  # type: ignore[return-value]


@pytest.fixture(scope="module")
def racer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Racer]:
    cluster = Cluster(PG_URL, Path(tmp_path_factory.mktemp("pgcluster")))
    cluster.start()
    try:
        yield Racer(cluster)
        assert not _server_errors(cluster), cluster.log_tail()
        # Lock order (store/locks.py) keeps deadlocks rare: each one costs a retry and a second.
        db = cluster.db_stats()
        print(f"PostgreSQL during the races: {db}")
        assert db["deadlocks"] <= MAX_DEADLOCKS, db
    finally:
        cluster.stop()


def _server_errors(cluster: Cluster) -> list[str]:
    return [
        line
        for log in cluster.logs
        for line in log.read_text(errors="replace").splitlines()
        if "Traceback" in line
    ]


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def rounds(check: Callable[[int], None]) -> None:
    for i in range(ROUNDS):
        check(i)


def _network(racer: Racer, cidr: str | None = None, **extra: Any) -> tuple[str, str | None]:
    net = racer.call("POST", "/v2.0/networks", {"network": {"name": "race", **extra}}, 201)
    net_id = net["network"]["id"]
    if cidr is None:
        return net_id, None
    sub = racer.call(
        "POST",
        "/v2.0/subnets",
        {"subnet": {"network_id": net_id, "ip_version": 4, "cidr": cidr}},
        201,
    )
    return net_id, sub["subnet"]["id"]


def _error_type(r: httpx.Response) -> str:
    return str(r.json()["NeutronError"]["type"])


def test_same_fixed_ip_goes_to_one_port(racer: Racer) -> None:
    net_id, sub_id = _network(racer, "192.0.2.0/24")

    def check(i: int) -> None:
        ip = f"192.0.2.{10 + i}"
        body = {
            "port": {"network_id": net_id, "fixed_ips": [{"subnet_id": sub_id, "ip_address": ip}]}
        }
        got = racer.race([("POST", "/v2.0/ports", body, None)] * 4)
        assert statuses(got) == {201: 1, 409: 3}, (i, [r.text for r in got])
        assert all(
            _error_type(r) == "IpAddressAlreadyAllocated" for r in got if r.status_code == 409
        ), i
        holders = racer.call("GET", f"/v2.0/ports?fixed_ips=ip_address={ip}", None, 200)
        assert len(holders["ports"]) == 1, i

    rounds(check)


@pytest.mark.parametrize("kind", ["port", "network", "router", "security_group", "floatingip"])
def test_racing_deletes_one_wins(racer: Racer, kind: str) -> None:
    net_id, _ = _network(racer, "198.51.100.0/24") if kind == "port" else ("", None)
    ext_id = ""
    if kind == "floatingip":
        ext_id, _ = _network(racer, None, **{"router:external": True})
        racer.call(
            "POST",
            "/v2.0/subnets",
            {"subnet": {"network_id": ext_id, "ip_version": 4, "cidr": "203.0.113.0/24"}},
            201,
        )

    def make() -> str:
        if kind == "port":
            return str(
                racer.call("POST", "/v2.0/ports", {"port": {"network_id": net_id}}, 201)["port"][
                    "id"
                ]
            )
        if kind == "network":
            return _network(racer, "192.0.2.0/28")[0]
        if kind == "router":
            return str(
                racer.call("POST", "/v2.0/routers", {"router": {"name": "r"}}, 201)["router"]["id"]
            )
        if kind == "security_group":
            return str(
                racer.call(
                    "POST", "/v2.0/security-groups", {"security_group": {"name": "sg"}}, 201
                )["security_group"]["id"]
            )
        return str(
            racer.call(
                "POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": ext_id}}, 201
            )["floatingip"]["id"]
        )

    collection = {"security_group": "security-groups"}.get(kind, kind + "s")

    def check(i: int) -> None:
        rid = make()
        got = racer.race([("DELETE", f"/v2.0/{collection}/{rid}", None, None)] * 4)
        assert statuses(got) == {204: 1, 404: 3}, (kind, i, [r.text for r in got])
        racer.call("GET", f"/v2.0/{collection}/{rid}", None, 404)

    rounds(check)


@pytest.mark.parametrize("kind", ["port", "network", "security_group"])
def test_if_match_updates_of_one_revision_one_wins(racer: Racer, kind: str) -> None:
    collection = {"security_group": "security-groups"}.get(kind, kind + "s")
    if kind == "port":
        net_id, _ = _network(racer, None)
        rid = racer.call("POST", "/v2.0/ports", {"port": {"network_id": net_id}}, 201)
        rid = rid["port"]["id"]
    elif kind == "network":
        rid = _network(racer, None)[0]
    else:
        rid = racer.call("POST", "/v2.0/security-groups", {"security_group": {"name": "sg"}}, 201)[
            "security_group"
        ]["id"]

    def check(i: int) -> None:
        before = racer.call("GET", f"/v2.0/{collection}/{rid}", None, 200)[kind]
        revision = before["revision_number"]
        names = [f"r{i}-{n}" for n in range(4)]
        got = racer.race(
            [
                (
                    "PUT",
                    f"/v2.0/{collection}/{rid}",
                    {kind: {"name": name}},
                    {"If-Match": f"revision_number={revision}"},
                )
                for name in names
            ]
        )
        assert statuses(got) == {200: 1, 412: 3}, (kind, i, [r.text for r in got])
        winner = next(r.json()[kind] for r in got if r.status_code == 200)
        after = racer.call("GET", f"/v2.0/{collection}/{rid}", None, 200)[kind]
        assert after["name"] == winner["name"] and after["revision_number"] > revision, i

    rounds(check)


def test_quota_of_three_lets_exactly_three_of_eight_through(racer: Racer) -> None:
    net_id, _ = _network(racer, "192.0.2.0/24", shared=True)

    def check(i: int) -> None:
        project = uuid.uuid4().hex
        racer.call("PUT", f"/v2.0/quotas/{project}", {"quota": {"port": 3}}, 200)
        body = {"port": {"network_id": net_id, "project_id": project}}
        got = racer.race([("POST", "/v2.0/ports", body, None)] * 8)
        assert statuses(got) == {201: 3, 409: 5}, (i, [r.text for r in got])
        assert all(_error_type(r) == "OverQuota" for r in got if r.status_code == 409), i
        owned = racer.call("GET", f"/v2.0/ports?project_id={project}", None, 200)["ports"]
        assert len(owned) == 3, i
        for port in owned:
            racer.call("DELETE", f"/v2.0/ports/{port['id']}", None, 204)

    rounds(check)


def test_router_interface_for_one_subnet_added_once(racer: Racer) -> None:
    router = racer.call("POST", "/v2.0/routers", {"router": {"name": "r"}}, 201)["router"]

    def check(i: int) -> None:
        _, sub_id = _network(racer, f"10.{i}.0.0/24")
        got = racer.race(
            [
                (
                    "PUT",
                    f"/v2.0/routers/{router['id']}/add_router_interface",
                    {"subnet_id": sub_id},
                    None,
                )
            ]
            * 4
        )
        assert statuses(got) == {200: 1, 400: 3}, (i, [r.text for r in got])
        ports = racer.call(
            "GET", f"/v2.0/ports?device_id={router['id']}&fixed_ips=subnet_id={sub_id}", None, 200
        )["ports"]
        assert len(ports) == 1, (i, ports)

    rounds(check)


def test_subnet_delete_against_port_creates(racer: Racer) -> None:
    def check(i: int) -> None:
        net_id, sub_id = _network(racer, "192.0.2.0/24")
        body = {"port": {"network_id": net_id, "fixed_ips": [{"subnet_id": sub_id}]}}
        got = racer.race(
            [
                ("DELETE", f"/v2.0/subnets/{sub_id}", None, None),
                *[("POST", "/v2.0/ports", body, None)] * 3,
            ]
        )
        deleted, creates = got[0], got[1:]
        created = [r.json()["port"] for r in creates if r.status_code == 201]
        assert all(r.status_code in (201, 400, 404) for r in creates), (i, [r.text for r in got])
        if deleted.status_code == 204:
            assert not created, (i, [r.text for r in got])
            racer.call("GET", f"/v2.0/subnets/{sub_id}", None, 404)
        else:
            assert deleted.status_code == 409 and created, (i, deleted.text)
        for port in created:  # what was answered is what is stored
            stored = racer.call("GET", f"/v2.0/ports/{port['id']}", None, 200)["port"]
            assert stored["fixed_ips"] == port["fixed_ips"] != [], i
        left = racer.call("GET", f"/v2.0/ports?fixed_ips=subnet_id={sub_id}", None, 200)
        assert len(left["ports"]) == len(created), i

    rounds(check)


def test_network_delete_against_port_creates(racer: Racer) -> None:
    def check(i: int) -> None:
        net_id, _ = _network(racer, "192.0.2.0/24")
        body = {"port": {"network_id": net_id}}
        got = racer.race(
            [
                ("DELETE", f"/v2.0/networks/{net_id}", None, None),
                *[("POST", "/v2.0/ports", body, None)] * 3,
            ]
        )
        deleted, creates = got[0], got[1:]
        created = [r.json()["port"] for r in creates if r.status_code == 201]
        assert all(r.status_code in (201, 404) for r in creates), (i, [r.text for r in got])
        if deleted.status_code == 204:
            assert not created, (i, [r.text for r in got])
        else:
            assert deleted.status_code == 409 and created, (i, deleted.text)
        for port in created:
            racer.call("GET", f"/v2.0/ports/{port['id']}", None, 200)
        left = racer.call("GET", f"/v2.0/ports?network_id={net_id}", None, 200)["ports"]
        assert len(left) == len(created), i

    rounds(check)


def test_security_group_delete_against_ports_using_it(racer: Racer) -> None:
    net_id, _ = _network(racer, "198.51.100.0/24")

    def check(i: int) -> None:
        sg = racer.call("POST", "/v2.0/security-groups", {"security_group": {"name": "sg"}}, 201)[
            "security_group"
        ]["id"]
        body = {"port": {"network_id": net_id, "security_groups": [sg]}}
        got = racer.race(
            [
                ("DELETE", f"/v2.0/security-groups/{sg}", None, None),
                *[("POST", "/v2.0/ports", body, None)] * 3,
            ]
        )
        deleted, creates = got[0], got[1:]
        created = [r.json()["port"] for r in creates if r.status_code == 201]
        assert all(r.status_code in (201, 404) for r in creates), (i, [r.text for r in got])
        if deleted.status_code == 204:
            assert not created, (i, [r.text for r in got])
        else:
            assert deleted.status_code == 409 and created, (i, deleted.text)
        for port in created:
            stored = racer.call("GET", f"/v2.0/ports/{port['id']}", None, 200)["port"]
            assert stored["security_groups"] == [sg], i
            racer.call("DELETE", f"/v2.0/ports/{port['id']}", None, 204)
        if deleted.status_code != 204:  # the group outlived the race: make room for the next
            racer.call("DELETE", f"/v2.0/security-groups/{sg}", None, 204)

    rounds(check)


def test_floating_ip_associations_of_one_fixed_ip_one_wins(racer: Racer) -> None:
    ext_id, _ = _network(racer, None, **{"router:external": True})
    racer.call(
        "POST",
        "/v2.0/subnets",
        {"subnet": {"network_id": ext_id, "ip_version": 4, "cidr": "203.0.113.0/24"}},
        201,
    )
    net_id, sub_id = _network(racer, "10.200.0.0/24")
    router = racer.call(
        "POST", "/v2.0/routers", {"router": {"external_gateway_info": {"network_id": ext_id}}}, 201
    )["router"]
    racer.call(
        "PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub_id}, 200
    )

    def check(i: int) -> None:
        port = racer.call("POST", "/v2.0/ports", {"port": {"network_id": net_id}}, 201)["port"]
        fips = [
            racer.call(
                "POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": ext_id}}, 201
            )["floatingip"]["id"]
            for _ in range(3)
        ]
        got = racer.race(
            [
                ("PUT", f"/v2.0/floatingips/{f}", {"floatingip": {"port_id": port["id"]}}, None)
                for f in fips
            ]
        )
        assert statuses(got) == {200: 1, 409: 2}, (i, [r.text for r in got])
        bound = racer.call("GET", f"/v2.0/floatingips?port_id={port['id']}", None, 200)
        assert len(bound["floatingips"]) == 1, i
        for f in fips:
            racer.call("DELETE", f"/v2.0/floatingips/{f}", None, 204)
        racer.call("DELETE", f"/v2.0/ports/{port['id']}", None, 204)

    rounds(check)


def _member_token(racer: Racer) -> tuple[str, str]:
    """(project id, token) of a new member of a new project."""
    suffix = uuid.uuid4().hex[:8]
    project = racer.call("POST", "/v3/projects", {"project": {"name": f"race-{suffix}"}}, 201)
    pid = project["project"]["id"]
    user = racer.call(
        "POST",
        "/v3/users",
        {"user": {"name": f"race-{suffix}", "password": suffix, "domain_id": "default"}},
        201,
    )["user"]["id"]
    roles = {r["name"]: r["id"] for r in racer.call("GET", "/v3/roles", None, 200)["roles"]}
    racer.call("PUT", f"/v3/projects/{pid}/users/{user}/roles/{roles['member']}", None, 204)
    r = racer.api.post(
        "/v3/auth/tokens",
        json={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"id": user, "password": suffix}},
                },
                "scope": {"project": {"id": pid}},
            }
        },
    )
    assert r.status_code == 201, r.text
    return pid, r.headers["X-Subject-Token"]


def test_rbac_policy_delete_against_port_creates_by_its_target(racer: Racer) -> None:
    """The target project creates ports on a network shared to it by name while the owner
    deletes the policy: either the delete wins (and no port of the target is left) or it is
    refused as in use (409 ``InvalidSharedSetting``) because a port came first."""
    target, token = _member_token(racer)
    as_target = {"X-Auth-Token": token}

    def check(i: int) -> None:
        net_id, _ = _network(racer, "192.0.2.0/24")
        policy = racer.call(
            "POST",
            "/v2.0/rbac-policies",
            {
                "rbac_policy": {
                    "object_type": "network",
                    "object_id": net_id,
                    "action": "access_as_shared",
                    "target_tenant": target,
                }
            },
            201,
        )["rbac_policy"]
        body = {"port": {"network_id": net_id}}
        got = racer.race(
            [
                ("DELETE", f"/v2.0/rbac-policies/{policy['id']}", None, None),
                *[("POST", "/v2.0/ports", body, as_target)] * 3,
            ]
        )
        deleted, creates = got[0], got[1:]
        created = [r.json()["port"] for r in creates if r.status_code == 201]
        assert all(r.status_code in (201, 404) for r in creates), (i, [r.text for r in got])
        left = racer.call("GET", f"/v2.0/ports?network_id={net_id}", None, 200)["ports"]
        if deleted.status_code == 204:
            assert not created and not left, (i, [r.text for r in got])
        else:
            assert deleted.status_code == 409, (i, deleted.text)
            assert _error_type(deleted) == "InvalidSharedSetting" and created, i
            assert {p["id"] for p in left} == {p["id"] for p in created}, i
            racer.call("GET", f"/v2.0/rbac-policies/{policy['id']}", None, 200)
        for port in left:
            racer.call("DELETE", f"/v2.0/ports/{port['id']}", None, 204)
        racer.call("DELETE", f"/v2.0/networks/{net_id}", None, 204)

    rounds(check)


def _pool(racer: Racer, prefixes: list[str], **extra: Any) -> dict[str, Any]:
    body = {"subnetpool": {"name": "race", "prefixes": prefixes, **extra}}
    return racer.call("POST", "/v2.0/subnetpools", body, 201)["subnetpool"]  # type: ignore[no-any-return]


def test_sixteen_creators_from_one_pool_never_overlap(racer: Racer) -> None:
    """Room for 10 /28s: 10 creates win with 10 distinct cidrs, 6 are told it is exhausted."""
    nets = [_network(racer)[0] for _ in range(16)]

    def check(i: int) -> None:
        pool = _pool(racer, ["198.51.100.0/25", "198.51.100.128/27"], default_prefixlen=28)
        # each for its own project: one project's creates queue on its quota key, so only
        # distinct projects race on the pool's own lock
        bodies = [
            {
                "subnet": {
                    "network_id": n,
                    "ip_version": 4,
                    "subnetpool_id": pool["id"],
                    "project_id": uuid.uuid4().hex,
                }
            }
            for n in nets
        ]
        got = racer.race([("POST", "/v2.0/subnets", b, None) for b in bodies])
        assert statuses(got) == {201: 10, 409: 6}, (i, [r.text for r in got])
        assert all(_error_type(r) == "SubnetAllocationError" for r in got if r.status_code == 409)
        cidrs = [r.json()["subnet"]["cidr"] for r in got if r.status_code == 201]
        assert len(set(cidrs)) == 10, (i, cidrs)
        for r in got:
            if r.status_code == 201:
                racer.call("DELETE", f"/v2.0/subnets/{r.json()['subnet']['id']}", None, 204)
        racer.call("DELETE", f"/v2.0/subnetpools/{pool['id']}", None, 204)

    rounds(check)


def test_one_cidr_from_a_pool_goes_to_one_subnet(racer: Racer) -> None:
    nets = [_network(racer)[0] for _ in range(6)]

    def check(i: int) -> None:
        pool = _pool(racer, ["203.0.113.0/24"])
        body = {"ip_version": 4, "subnetpool_id": pool["id"], "cidr": f"203.0.113.{i * 8}/29"}
        got = racer.race(
            [
                (
                    "POST",
                    "/v2.0/subnets",
                    {"subnet": {**body, "network_id": n, "project_id": uuid.uuid4().hex}},
                    None,
                )
                for n in nets
            ]
        )
        assert statuses(got) == {201: 1, 409: 5}, (i, [r.text for r in got])
        (won,) = [r.json()["subnet"] for r in got if r.status_code == 201]
        racer.call("DELETE", f"/v2.0/subnets/{won['id']}", None, 204)
        racer.call("DELETE", f"/v2.0/subnetpools/{pool['id']}", None, 204)

    rounds(check)


def test_pool_delete_against_subnet_creates_from_it(racer: Racer) -> None:
    """Either the delete wins (the creates answer 404) or it is refused (400): never a subnet
    naming a deleted pool."""
    nets = [_network(racer)[0] for _ in range(3)]

    def check(i: int) -> None:
        pool = _pool(racer, ["192.0.2.0/24"], default_prefixlen=26)
        creates: list[Request] = [
            (
                "POST",
                "/v2.0/subnets",
                {"subnet": {"network_id": n, "ip_version": 4, "subnetpool_id": pool["id"]}},
                None,
            )
            for n in nets
        ]
        got = racer.race([("DELETE", f"/v2.0/subnetpools/{pool['id']}", None, None), *creates])
        deleted, made = got[0], [r for r in got[1:] if r.status_code == 201]
        assert deleted.status_code in (204, 400), (i, deleted.text)
        assert all(r.status_code in (201, 404) for r in got[1:]), (i, [r.text for r in got])
        if deleted.status_code == 204:
            assert not made, i
        else:
            assert made and _error_type(deleted) == "SubnetPoolDeleteError", i
        for r in made:
            racer.call("DELETE", f"/v2.0/subnets/{r.json()['subnet']['id']}", None, 204)
        if deleted.status_code != 204:
            racer.call("DELETE", f"/v2.0/subnetpools/{pool['id']}", None, 204)

    rounds(check)


def test_overlapping_pools_joining_one_scope_one_wins(racer: Racer) -> None:
    def check(i: int) -> None:
        body = {"address_scope": {"name": "race", "ip_version": 4}}
        scope = racer.call("POST", "/v2.0/address-scopes", body, 201)["address_scope"]
        pools = [
            {
                "subnetpool": {
                    "name": "race",
                    "prefixes": [f"10.{i}.{n}.0/24", f"10.{i}.100.0/24"],
                    "address_scope_id": scope["id"],
                }
            }
            for n in range(4)
        ]
        got = racer.race([("POST", "/v2.0/subnetpools", b, None) for b in pools])
        assert statuses(got) == {201: 1, 409: 3}, (i, [r.text for r in got])
        assert all(
            _error_type(r) == "AddressScopePrefixConflict" for r in got[1:] if r.status_code == 409
        )
        (won,) = [r.json()["subnetpool"] for r in got if r.status_code == 201]
        racer.call("DELETE", f"/v2.0/subnetpools/{won['id']}", None, 204)
        racer.call("DELETE", f"/v2.0/address-scopes/{scope['id']}", None, 204)

    rounds(check)


def test_one_default_pool_per_ip_version(racer: Racer) -> None:
    def check(i: int) -> None:
        body = {"subnetpool": {"name": "race", "prefixes": ["2001:db8::/48"], "is_default": True}}
        got = racer.race([("POST", "/v2.0/subnetpools", body, None)] * 4)
        assert statuses(got) == {201: 1, 400: 3}, (i, [r.text for r in got])
        (won,) = [r.json()["subnetpool"] for r in got if r.status_code == 201]
        racer.call("DELETE", f"/v2.0/subnetpools/{won['id']}", None, 204)

    rounds(check)


def test_last_ha_router_delete_against_ha_router_creates(racer: Racer) -> None:
    """The project's HA network goes with its last HA router; HA routers created meanwhile
    never lose it: afterwards there is exactly one HA network (with its subnet) while an HA
    router exists, and none once the last one is deleted."""
    body = {"router": {"name": "race-ha", "ha": True}}

    def ha_networks(tenant: str) -> list[dict[str, Any]]:
        name = f"HA network tenant {tenant}"
        return list(racer.call("GET", f"/v2.0/networks?name={name}", None, 200)["networks"])

    def check(i: int) -> None:
        first = racer.call("POST", "/v2.0/routers", body, 201)["router"]
        tenant = first["tenant_id"]
        assert len(ha_networks(tenant)) == 1, i
        got = racer.race(
            [
                ("DELETE", f"/v2.0/routers/{first['id']}", None, None),
                *[("POST", "/v2.0/routers", body, None)] * 2,
            ]
        )
        assert [r.status_code for r in got] == [204, 201, 201], (i, [r.text for r in got])
        nets = ha_networks(tenant)
        assert len(nets) == 1, (i, nets)
        subnets = racer.call("GET", f"/v2.0/subnets?network_id={nets[0]['id']}", None, 200)
        assert len(subnets["subnets"]) == 1, i
        for r in got[1:]:
            racer.call("DELETE", f"/v2.0/routers/{r.json()['router']['id']}", None, 204)
        assert ha_networks(tenant) == [], i

    rounds(check)


def _service_token(racer: Racer) -> str:
    """A token of a new user holding the ``service`` role (port bindings' only writer)."""
    suffix = uuid.uuid4().hex[:8]
    project = racer.call("POST", "/v3/projects", {"project": {"name": f"svc-{suffix}"}}, 201)
    pid = project["project"]["id"]
    user = racer.call(
        "POST",
        "/v3/users",
        {"user": {"name": f"svc-{suffix}", "password": suffix, "domain_id": "default"}},
        201,
    )["user"]["id"]
    roles = {r["name"]: r["id"] for r in racer.call("GET", "/v3/roles", None, 200)["roles"]}
    racer.call("PUT", f"/v3/projects/{pid}/users/{user}/roles/{roles['service']}", None, 204)
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"id": user, "password": suffix}},
            },
            "scope": {"project": {"id": pid}},
        }
    }
    r = racer.api.post("/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"]


def test_activations_of_one_port_binding_one_wins(racer: Racer) -> None:
    """Four activations of a VM port's binding on its destination: one switches the port,
    three get 409 ``PortBindingAlreadyActive``; exactly one binding is ACTIVE after."""
    service = {"X-Auth-Token": _service_token(racer)}
    net_id, _ = _network(racer, "192.0.2.0/24", **{"provider:network_type": "vxlan"})

    def check(i: int) -> None:
        for n, host in enumerate(("race-src", "race-dst"), start=1):  # alive for the round
            agent = {
                "host": host,
                "agent_type": "L2 agent",
                "configurations": {"tunnel_types": ["vxlan"], "tunnel_ip": f"198.51.100.{n}"},
            }
            racer.call("POST", "/agent/v1/agents", {"agent": agent}, 200)
        port = racer.call(
            "POST",
            "/v2.0/ports",
            {
                "port": {
                    "network_id": net_id,
                    "device_owner": "compute:nova",
                    "binding:host_id": "race-src",
                }
            },
            201,
        )["port"]["id"]
        base = f"/v2.0/ports/{port}/bindings"
        made = racer.api.post(base, json={"binding": {"host": "race-dst"}}, headers=service)
        assert made.status_code == 201, (i, made.text)
        got = racer.race([("PUT", f"{base}/race-dst/activate", None, service)] * 4)
        assert statuses(got) == {200: 1, 409: 3}, (i, [r.text for r in got])
        assert {_error_type(r) for r in got if r.status_code == 409} == {
            "PortBindingAlreadyActive"
        }, i
        listed = racer.api.get(base, headers=service).json()["bindings"]
        assert sorted((b["host"], b["status"]) for b in listed) == [
            ("race-dst", "ACTIVE"),
            ("race-src", "INACTIVE"),
        ], i
        shown = racer.call("GET", f"/v2.0/ports/{port}", None, 200)["port"]
        assert shown["binding:host_id"] == "race-dst", i

    rounds(check)
