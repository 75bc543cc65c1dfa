"""The L3 agent scheduler API (extension ``l3_agent_scheduler``): the routers of an agent, an
admin adding a router to an agent and removing it, which moves the router's ports (and its
host state) with it; an HA router gains a standby host; Neutron's errors and policy."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.common.settings import Settings
from tests.api.test_agent_api import register, state
from tests.api.test_l3_ha import HA_OWNER, _agents
from tests.api.test_l3_scheduling import _external, _network_node, _router_ports
from tests.conftest import Caller


def _l3(api: Caller, host: str) -> dict[str, Any]:
    (agent,) = api.get(f"/v2.0/agents?agent_type=L3 agent&host={host}").json()["agents"]
    return agent  # type: ignore[no-any-return]


def _routers_of(api: Caller, agent: dict[str, Any]) -> list[str]:
    r = api.get(f"/v2.0/agents/{agent['id']}/l3-routers")
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["routers"]]


def _router(api: Caller, **extra: Any) -> dict[str, Any]:
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    ext, _ = _external(api)
    router = api.create(
        "routers", "router", external_gateway_info={"network_id": ext["id"]}, **extra
    )
    r = api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert r.status_code == 200, r.text
    return router


def test_remove_then_add_moves_the_router_and_its_ports(api: Caller) -> None:
    _network_node(api, "net1", "198.51.100.101")
    _network_node(api, "net2", "198.51.100.102")
    router = _router(api)
    rid = router["id"]
    (first,) = _agents(api, rid)
    source, target = (_l3(api, "net1"), _l3(api, "net2"))
    if first == "net2":
        source, target = target, source
    assert _routers_of(api, source) == [rid] and _routers_of(api, target) == []
    (shown,) = api.get(f"/v2.0/agents/{source['id']}/l3-routers").json()["routers"]
    assert shown["external_gateway_info"]["network_id"]  # whole router views

    r = api.post(f"/v2.0/agents/{target['id']}/l3-routers", {"router_id": rid})
    assert r.status_code == 409, r.text
    assert r.json()["NeutronError"]["type"] == "RouterHostedByL3Agent"
    assert source["id"] in r.json()["NeutronError"]["message"]

    r = api.delete(f"/v2.0/agents/{source['id']}/l3-routers/{rid}")
    assert r.status_code == 204, r.text
    assert _agents(api, rid) == {} and _routers_of(api, source) == []
    assert state(api, source["host"])["state"]["routers"] == []
    assert {(p["binding:host_id"], p["status"]) for p in _router_ports(api, rid)} == {("", "DOWN")}
    # an ordinary heartbeat does not put it back: it waits for a change or an admin
    tunnel = "198.51.100.101" if source["host"] == "net1" else "198.51.100.102"
    register(api, source["host"], tunnel_ip=tunnel, agent_type="L3 agent", agent_mode="legacy")
    assert _agents(api, rid) == {}

    r = api.post(f"/v2.0/agents/{target['id']}/l3-routers", {"router_id": rid})
    assert r.status_code == 201, r.text
    assert r.json() is None
    assert list(_agents(api, rid)) == [target["host"]]
    assert {p["binding:host_id"] for p in _router_ports(api, rid)} == {target["host"]}
    (rs,) = state(api, target["host"])["state"]["routers"]
    assert rs["id"] == rid and rs["gateway"] is not None and len(rs["interfaces"]) == 1
    # adding it again where it is: nothing happens, as Neutron answers
    r = api.post(f"/v2.0/agents/{target['id']}/l3-routers", {"router_id": rid})
    assert r.status_code == 201, r.text
    assert list(_agents(api, rid)) == [target["host"]]


def test_a_router_without_ports_can_be_hosted(api: Caller) -> None:
    _network_node(api, "net1", "198.51.100.101")
    router = api.create("routers", "router")
    agent = _l3(api, "net1")
    assert _agents(api, router["id"]) == {}
    r = api.post(f"/v2.0/agents/{agent['id']}/l3-routers", {"router_id": router["id"]})
    assert r.status_code == 201, r.text
    assert _routers_of(api, agent) == [router["id"]]
    assert list(_agents(api, router["id"])) == ["net1"]


class TestHa:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"max_l3_agents_per_router": 2})

    def test_ha_router_gains_a_standby_and_loses_it(self, api: Caller) -> None:
        for i in (1, 2, 3):
            _network_node(api, f"net{i}", f"198.51.100.10{i}")
        router = _router(api, ha=True)
        rid = router["id"]
        hosts = _agents(api, rid)
        assert len(hosts) == 2
        (third,) = {"net1", "net2", "net3"} - set(hosts)
        agent = _l3(api, third)
        r = api.post(f"/v2.0/agents/{agent['id']}/l3-routers", {"router_id": rid})
        assert r.status_code == 201, r.text
        assert _agents(api, rid) == {h: "standby" for h in ("net1", "net2", "net3")}
        ha_ports = [p for p in _router_ports(api, rid) if p["device_owner"] == HA_OWNER]
        assert sorted(p["binding:host_id"] for p in ha_ports) == ["net1", "net2", "net3"]
        (rs,) = state(api, third)["state"]["routers"]
        assert rs["ha"] is not None and len(rs["ha"]["peers"]) == 2

        r = api.delete(f"/v2.0/agents/{agent['id']}/l3-routers/{rid}")
        assert r.status_code == 204, r.text
        assert set(_agents(api, rid)) == set(hosts)
        ha_ports = [p for p in _router_ports(api, rid) if p["device_owner"] == HA_OWNER]
        assert sorted(p["binding:host_id"] for p in ha_ports) == sorted(hosts)
        assert state(api, third)["state"]["routers"] == []


def test_errors_are_neutrons(api: Caller) -> None:
    _network_node(api, "net1", "198.51.100.101")
    l2 = next(
        a
        for a in api.get("/v2.0/agents?host=net1").json()["agents"]
        if a["agent_type"] != "L3 agent"
    )
    agent = _l3(api, "net1")
    router = api.create("routers", "router")
    base = f"/v2.0/agents/{agent['id']}/l3-routers"
    missing = "00000000-0000-0000-0000-000000000000"

    r = api.post(f"/v2.0/agents/{l2['id']}/l3-routers", {"router_id": router["id"]})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "InvalidL3Agent"
    r = api.put(f"/v2.0/agents/{agent['id']}", {"agent": {"admin_state_up": False}})
    assert r.status_code == 200, r.text
    r = api.post(base, {"router_id": router["id"]})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "InvalidL3Agent"
    r = api.post(base, {"router_id": missing})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "RouterNotFound"
    r = api.post(f"/v2.0/agents/{missing}/l3-routers", {"router_id": router["id"]})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "AgentNotFound"
    r = api.get(f"/v2.0/agents/{missing}/l3-routers")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "AgentNotFound"
    r = api.delete(f"/v2.0/agents/{missing}/l3-routers/{router['id']}")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "AgentNotFound"
    r = api.delete(f"{base}/{missing}")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "RouterNotFound"
    r = api.delete(f"{base}/{router['id']}")  # not hosted there: nothing to do, as Neutron
    assert r.status_code == 204, r.text


@pytest.mark.parametrize(
    "body",
    [None, [], "x", {}, {"router_id": 5}, {"router_id": ""}, {"router_id": ["a"]}],
)
def test_hostile_bodies_are_400(api: Caller, body: Any) -> None:
    _network_node(api, "net1", "198.51.100.101")
    r = api.post(f"/v2.0/agents/{_l3(api, 'net1')['id']}/l3-routers", body)
    assert r.status_code == 400, r.text
    assert r.json()["NeutronError"]["message"]


def test_members_may_not_see_or_change_the_schedule(api: Caller) -> None:
    _network_node(api, "net1", "198.51.100.101")
    agent = _l3(api, "net1")
    member = api.as_member()
    net = member.network()
    sub = member.subnet(net["id"], "192.0.2.0/24")
    router = member.create("routers", "router")
    r = member.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert r.status_code == 200, r.text
    for r in (
        member.get(f"/v2.0/agents/{agent['id']}/l3-routers"),
        member.post(f"/v2.0/agents/{agent['id']}/l3-routers", {"router_id": router["id"]}),
        member.delete(f"/v2.0/agents/{agent['id']}/l3-routers/{router['id']}"),
    ):
        assert r.status_code == 403, r.text
        assert r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    assert list(_agents(api, router["id"])) == ["net1"]  # unchanged
