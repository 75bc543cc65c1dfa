"""Auto-allocated topology and the default external network on SQLite and PostgreSQL:
``GET/DELETE /v2.0/auto-allocated-topology/{project}``, the dry run, Neutron's errors when a
prerequisite is missing, idempotence, concurrent first calls, and one default external
network at most."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.api.test_concurrency import _token
from tests.conftest import Caller

TOPOLOGY = "/v2.0/auto-allocated-topology"


def error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json()["NeutronError"]  # type: ignore[no-any-return]


def prerequisites(api: Caller) -> dict[str, Any]:
    """A default external network with a subnet, and shared default pools of both versions."""
    ext = api.network(name="ext", **{"router:external": True, "is_default": True})
    api.subnet(ext["id"], "203.0.113.0/24")
    for version, prefix, length in ((4, "198.51.100.0/24", 28), (6, "2001:db8:1::/48", 64)):
        r = api.post(
            "/v2.0/subnetpools",
            {
                "subnetpool": {
                    "name": f"default-v{version}",
                    "prefixes": [prefix],
                    "default_prefixlen": length,
                    "is_default": True,
                    "shared": True,
                }
            },
        )
        assert r.status_code == 201, r.text
    return ext


def counts(caller: Caller) -> tuple[int, int, int]:
    def named(path: str, key: str) -> int:
        items = caller.get(path).json()[key]
        return len([x for x in items if x["name"].startswith("auto_allocated_")])

    return (
        named("/v2.0/networks", "networks"),
        named("/v2.0/subnets", "subnets"),
        named("/v2.0/routers", "routers"),
    )


def test_missing_prerequisites_are_neutrons_409(api: Caller) -> None:
    member = api.as_member()
    dry = member.get(f"{TOPOLOGY}/{member.project_id}", params={"fields": "dry-run"})
    assert error(dry, 409)["message"] == "Deployment error: No default router:external network."
    assert error(member.get(f"{TOPOLOGY}/None"), 409)["type"] == "AutoAllocationFailure"
    ext = api.network(name="ext", **{"router:external": True, "is_default": True})
    api.subnet(ext["id"], "203.0.113.0/24")
    dry = member.get(f"{TOPOLOGY}/{member.project_id}", params={"fields": "dry-run"})
    assert error(dry, 409)["message"] == "Deployment error: No default subnetpools defined."
    r = member.get(f"{TOPOLOGY}/{member.project_id}")
    assert error(r, 409)["message"] == (
        "Deployment error: Unable to provide project private network."
    )
    assert counts(member) == (0, 0, 0)  # the failed build left nothing behind
    assert error(member.get(f"{TOPOLOGY}/{api.project_id}"), 403)["type"] == "NotAuthorized"
    r = member.get(f"{TOPOLOGY}/{member.project_id}", params={"fields": "id"})
    assert error(r, 400)["type"] == "HTTPBadRequest"


def test_get_builds_once_and_delete_removes_it(api: Caller) -> None:
    ext = prerequisites(api)
    member = api.as_member()
    dry = member.get(f"{TOPOLOGY}/None", params={"fields": "dry-run"}).json()
    assert dry["auto_allocated_topology"] == {
        "id": "dry-run=pass",
        "tenant_id": member.project_id,
        "project_id": member.project_id,
    }
    assert counts(member) == (0, 0, 0)
    first = member.get(f"{TOPOLOGY}/{member.project_id}").json()["auto_allocated_topology"]
    assert first["project_id"] == member.project_id
    net = member.get(f"/v2.0/networks/{first['id']}").json()["network"]
    assert net["admin_state_up"] is True and net["name"] == "auto_allocated_network"
    assert counts(member) == (1, 2, 1)
    subnets = member.get("/v2.0/subnets", params={"network_id": net["id"]}).json()["subnets"]
    assert sorted(s["ip_version"] for s in subnets) == [4, 6]
    router = member.get("/v2.0/routers").json()["routers"][0]
    assert router["external_gateway_info"]["network_id"] == ext["id"]
    ports = member.get("/v2.0/ports", params={"device_id": router["id"]}).json()["ports"]
    assert {p["network_id"] for p in ports} >= {net["id"]}
    again = member.get(f"{TOPOLOGY}/None").json()["auto_allocated_topology"]
    assert again["id"] == first["id"] and counts(member) == (1, 2, 1)
    shown = api.get(f"{TOPOLOGY}/{member.project_id}").json()["auto_allocated_topology"]
    assert shown["id"] == first["id"]  # an admin may ask for any project
    assert member.delete(f"{TOPOLOGY}/{member.project_id}").status_code == 204
    assert counts(member) == (0, 0, 0)
    assert member.delete(f"{TOPOLOGY}/None").status_code == 204  # nothing left: still 204
    rebuilt = member.get(f"{TOPOLOGY}/None").json()["auto_allocated_topology"]
    assert rebuilt["id"] != first["id"] and counts(member) == (1, 2, 1)
    # the project deletes the network by hand: the next GET builds a new topology
    router = member.get("/v2.0/routers").json()["routers"][0]
    mine = member.get("/v2.0/subnets", params={"network_id": rebuilt["id"]}).json()["subnets"]
    for sub in mine:
        body = {"subnet_id": sub["id"]}
        assert member.put(f"/v2.0/routers/{router['id']}/remove_router_interface", body).is_success
    assert member.delete(f"/v2.0/routers/{router['id']}").status_code == 204
    assert member.delete(f"/v2.0/networks/{rebuilt['id']}").status_code == 204
    third = member.get(f"{TOPOLOGY}/None").json()["auto_allocated_topology"]
    assert third["id"] not in (first["id"], rebuilt["id"]) and counts(member) == (1, 2, 1)


def test_one_default_external_network(api: Caller) -> None:
    first = api.network(name="e1", **{"router:external": True, "is_default": True})
    assert first["is_default"] is True
    r = api.post(
        "/v2.0/networks",
        {"network": {"name": "e2", "router:external": True, "is_default": True}},
    )
    err = error(r, 409)
    assert err["type"] == "DefaultExternalNetworkExists" and first["id"] in err["message"]
    second = api.network(name="e2", **{"router:external": True})
    r = api.put(f"/v2.0/networks/{second['id']}", {"network": {"is_default": True}})
    assert error(r, 409)["type"] == "DefaultExternalNetworkExists"
    plain = api.network(name="p", is_default=True)  # not external: the flag does not stick
    assert plain["is_default"] is False
    r = api.put(f"/v2.0/networks/{first['id']}", {"network": {"description": "gman"}})
    assert r.json()["network"]["is_default"] is True
    r = api.put(f"/v2.0/networks/{first['id']}", {"network": {"router:external": False}})
    assert r.json()["network"]["is_default"] is False
    r = api.put(f"/v2.0/networks/{second['id']}", {"network": {"is_default": True}})
    assert r.status_code == 200 and r.json()["network"]["is_default"] is True
    member = api.as_member()
    r = member.put(f"/v2.0/networks/{second['id']}", {"network": {"is_default": False}})
    assert r.status_code in (403, 404)


def test_update_external_network_bumps_revision(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    r = api.put(f"/v2.0/networks/{net['id']}", {"network": {"router:external": True}})
    assert r.json()["network"]["revision_number"] > net["revision_number"]


def test_concurrent_first_calls_build_one_topology(live_url: str) -> None:
    headers = {"X-Auth-Token": _token(live_url)}
    with httpx.Client(base_url=live_url, headers=headers, timeout=120) as c:
        ext = c.post(
            "/v2.0/networks",
            json={"network": {"name": "ext", "router:external": True, "is_default": True}},
        ).json()["network"]
        body = {"network_id": ext["id"], "ip_version": 4, "cidr": "203.0.113.0/24"}
        assert c.post("/v2.0/subnets", json={"subnet": body}).status_code == 201
        pool = {"name": "p", "prefixes": ["198.51.100.0/24"], "default_prefixlen": 28}
        pool["is_default"] = True
        assert c.post("/v2.0/subnetpools", json={"subnetpool": pool}).status_code == 201
        project = c.post(
            "/v3/projects", json={"project": {"name": "gman", "domain_id": "default"}}
        ).json()["project"]["id"]

    def call(_: int) -> tuple[int, Any]:
        with httpx.Client(base_url=live_url, headers=headers, timeout=120) as c:
            r = c.get(f"{TOPOLOGY}/{project}")
            return r.status_code, r.json()

    with ThreadPoolExecutor(8) as pool_:
        results = list(pool_.map(call, range(8)))
    assert {s for s, _ in results} == {200}, results
    assert len({b["auto_allocated_topology"]["id"] for _, b in results}) == 1
    with httpx.Client(base_url=live_url, headers=headers) as c:
        nets = c.get("/v2.0/networks", params={"project_id": project}).json()["networks"]
        routers = c.get("/v2.0/routers", params={"project_id": project}).json()["routers"]
    assert len(nets) == 1 and len(routers) == 1
