"""``GET /v2.0/availability_zones``: the zones of the DHCP and L3 agents, as Neutron lists."""

from __future__ import annotations

from tests.conftest import Caller


def _agent(api: Caller, host: str, agent_type: str, zone: str | None) -> str:
    body = {
        "host": host,
        "agent_type": agent_type,
        "binary": "neutrino-agent",
        "configurations": {},
    }
    if zone is not None:
        body["availability_zone"] = zone
    r = api.post("/agent/v1/agents", {"agent": body})
    assert r.status_code == 200, r.text
    return str(r.json()["agent"]["id"])


def test_zones_from_agents(api: Caller) -> None:
    assert api.get("/v2.0/availability_zones").json() == {"availability_zones": []}
    _agent(api, "hv1", "DHCP agent", "az1")
    _agent(api, "hv1", "L3 agent", "az1")
    _agent(api, "hv1", "L2 agent", "az9")  # an L2 agent's zone is no resource's zone
    down = _agent(api, "hv2", "DHCP agent", "az2")
    r = api.put(f"/v2.0/agents/{down}", {"agent": {"admin_state_up": False}})
    assert r.status_code == 200, r.text
    zones = api.get("/v2.0/availability_zones").json()["availability_zones"]
    assert zones == [
        {"name": "az1", "resource": "network", "state": "available"},
        {"name": "az1", "resource": "router", "state": "available"},
        {"name": "az2", "resource": "network", "state": "unavailable"},
    ]
    member = api.as_member()
    assert member.get("/v2.0/availability_zones").json()["availability_zones"] == zones
    r = member.get("/v2.0/availability_zones?resource=router&fields=name").json()
    assert r == {"availability_zones": [{"name": "az1"}]}
    r = member.get("/v2.0/availability_zones?state=unavailable").json()["availability_zones"]
    assert [z["name"] for z in r] == ["az2"]
    r = member.get("/v2.0/availability_zones?sort_key=name&sort_dir=desc&limit=1").json()
    assert r["availability_zones"] == [zones[2]]
    for path in ("?bogus=1", "?sort_key=id", "?marker=x", "?limit=-2"):
        assert member.get("/v2.0/availability_zones" + path).status_code == 400, path
    assert api.client.get("/v2.0/availability_zones").status_code == 401
