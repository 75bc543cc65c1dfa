"""L3 HA through HTTP: an ``ha`` router is hosted by two L3 agents, each with an HA port on the
project's HA network; both hosts' state carries the whole router; an agent's ``active``
report moves the router's ports to it and shows in ``l3-agents``; members cannot set ``ha``."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from tests.api.test_agent_api import register, state
from tests.api.test_l3_scheduling import _external, _kill, _network_node, _router_ports
from tests.conftest import Caller

HA_OWNER = "network:router_ha_interface"


def _ha_router(api: Caller) -> tuple[dict[str, Any], dict[str, Any]]:
    _network_node(api, "net1", "198.51.100.101")
    _network_node(api, "net2", "198.51.100.102")
    register(api, "hv1", tunnel_ip="198.51.100.1")
    net = api.network()
    sub = api.subnet(net["id"], "192.0.2.0/24")
    ext, _ = _external(api)
    router = api.create(
        "routers", "router", ha=True, external_gateway_info={"network_id": ext["id"]}
    )
    r = api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert r.status_code == 200, r.text
    return router, net


def _agents(api: Caller, router_id: str) -> dict[str, str | None]:
    r = api.get(f"/v2.0/routers/{router_id}/l3-agents")
    assert r.status_code == 200, r.text
    return {a["host"]: a.get("ha_state") for a in r.json()["agents"]}


def _report(api: Caller, router_id: str, host: str, ha_state: Any) -> Any:
    return api.post(
        f"/agent/v1/routers/{router_id}/ha_state",
        {"router": {"host": host, "ha_state": ha_state}},
    )


def test_ha_router_on_two_agents_with_ha_ports(api: Caller) -> None:
    router, _ = _ha_router(api)
    assert router["ha"] is True
    ports = _router_ports(api, router["id"])
    ha_ports = [p for p in ports if p["device_owner"] == HA_OWNER]
    assert sorted(p["binding:host_id"] for p in ha_ports) == ["net1", "net2"]
    assert all(p["tenant_id"] == "" for p in ha_ports)
    assert all(p["fixed_ips"][0]["ip_address"].startswith("169.254.") for p in ha_ports)
    (ha_net,) = api.get(f"/v2.0/networks?name=HA network tenant {router['tenant_id']}").json()[
        "networks"
    ]
    assert ha_net["tenant_id"] == "" and ha_net["provider:network_type"] == "vxlan"
    others = {p["binding:host_id"] for p in ports if p["device_owner"] != HA_OWNER}
    assert len(others) == 1  # interface and gateway bound together, on one of the two
    assert _agents(api, router["id"]) == {"net1": "standby", "net2": "standby"}
    for host in ("net1", "net2"):
        (rs,) = state(api, host)["state"]["routers"]
        assert rs["ha"]["vr_id"] == 1
        assert len(rs["interfaces"]) == 1 and rs["gateway"] is not None
        own = rs["ha"]["port"]["addresses"][0]["ip_address"]
        assert len(rs["ha"]["peers"]) == 1 and own not in rs["ha"]["peers"]
    assert state(api, "hv1")["state"]["routers"] == []


def test_active_report_moves_ports_and_shows_in_l3_agents(api: Caller, store: Store) -> None:
    router, _ = _ha_router(api)
    bound = _router_ports(api, router["id"])[0]["binding:host_id"]
    other = "net2" if bound == "net1" else "net1"
    r = _report(api, router["id"], other, "active")
    assert r.status_code == 200, r.text
    assert _agents(api, router["id"]) == {other: "active", bound: "standby"}
    moved = [p for p in _router_ports(api, router["id"]) if p["device_owner"] != HA_OWNER]
    assert {p["binding:host_id"] for p in moved} == {other}
    # the old master's report after it rejoins
    assert _report(api, router["id"], bound, "standby").status_code == 200
    assert _agents(api, router["id"]) == {other: "active", bound: "standby"}
    # the backup's status report of a port it wires is taken as a no-op, not refused
    port = moved[0]
    r = api.post(
        f"/agent/v1/ports/{port['id']}/status", {"port": {"status": "DOWN", "host": bound}}
    )
    assert r.status_code == 200 and r.json()["port"]["status"] == port["status"], r.text
    assert api.get(f"/v2.0/ports/{port['id']}").json()["port"]["status"] == port["status"]
    # a dead active agent is shown standby while another lives
    _kill(store, other)
    assert _agents(api, router["id"])[other] == "standby"


def test_hostile_reports_and_member_cannot_set_ha(api: Caller) -> None:
    router, _ = _ha_router(api)
    for body in ("master", None, 5, ["active"]):
        assert _report(api, router["id"], "net1", body).status_code == 400
    assert _report(api, router["id"], "hv1", "active").status_code == 409  # not hosting it
    missing = "00000000-0000-0000-0000-000000000000"
    assert _report(api, missing, "net1", "active").status_code == 404
    assert api.get(f"/v2.0/routers/{missing}/l3-agents").status_code == 404
    member = api.as_member()
    r = member.post("/v2.0/routers", {"router": {"name": "x", "ha": True}})
    assert r.status_code == 403, r.text
    mine = member.post("/v2.0/routers", {"router": {"name": "y"}})
    assert mine.status_code == 201 and "ha" not in mine.json()["router"]
    rid = mine.json()["router"]["id"]
    assert member.put(f"/v2.0/routers/{rid}", {"router": {"ha": True}}).status_code == 403
    assert member.get(f"/v2.0/routers/{rid}/l3-agents").status_code == 403
    assert _report(member, router["id"], "net1", "active").status_code == 403
    assert api.post("/v2.0/routers", {"router": {"ha": "maybe"}}).status_code == 400


def test_ha_changes_only_while_admin_down_and_legacy_keeps_one_host(api: Caller) -> None:
    router, _ = _ha_router(api)
    rid = router["id"]
    r = api.put(f"/v2.0/routers/{rid}", {"router": {"ha": False}})
    assert r.status_code == 400, r.text
    r = api.put(f"/v2.0/routers/{rid}", {"router": {"ha": False, "admin_state_up": False}})
    assert r.status_code == 200 and r.json()["router"]["ha"] is False, r.text
    ports = _router_ports(api, rid)
    assert [p for p in ports if p["device_owner"] == HA_OWNER] == []
    assert len(_agents(api, rid)) == 1
    assert list(_agents(api, rid).values()) == [None]  # no ha_state on a legacy router
    r = api.put(f"/v2.0/routers/{rid}", {"router": {"ha": True}})
    assert r.status_code == 200 and r.json()["router"]["ha"] is True, r.text
    assert sorted(_agents(api, rid)) == ["net1", "net2"]


def test_deleting_an_ha_router_deletes_its_ha_ports(api: Caller) -> None:
    router, net = _ha_router(api)
    rid = router["id"]
    sub_id = api.get(f"/v2.0/subnets?network_id={net['id']}").json()["subnets"][0]["id"]
    api.put(f"/v2.0/routers/{rid}/remove_router_interface", {"subnet_id": sub_id})
    assert len([p for p in _router_ports(api, rid) if p["device_owner"] == HA_OWNER]) == 2
    assert api.delete(f"/v2.0/routers/{rid}").status_code == 204  # the gateway still set
    assert _router_ports(api, rid) == []
    assert api.get(f"/v2.0/ports?device_owner={HA_OWNER}").json()["ports"] == []


class TestServerDefaults:
    """``l3_ha`` makes routers HA unless the body says otherwise; ``max_l3_agents_per_router``
    caps their agents."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"l3_ha": True, "max_l3_agents_per_router": 2})

    def test_default_ha_and_agent_cap(self, api: Caller) -> None:
        for i in (1, 2, 3):
            _network_node(api, f"net{i}", f"198.51.100.10{i}")
        net = api.network()
        sub = api.subnet(net["id"], "192.0.2.0/24")
        router = api.create("routers", "router")
        legacy = api.create("routers", "router", ha=False)
        assert router["ha"] is True and legacy["ha"] is False
        for r in (router, legacy):
            body = {"subnet_id": sub["id"]} if r is router else {"subnet_id": _sub(api)}
            res = api.put(f"/v2.0/routers/{r['id']}/add_router_interface", body)
            assert res.status_code == 200, res.text
        assert len(_agents(api, router["id"])) == 2
        assert list(_agents(api, legacy["id"]).values()) == [None]


def _sub(api: Caller) -> str:
    net = api.network()
    return str(api.subnet(net["id"], "198.51.100.0/24")["id"])


def _ha_networks(api: Caller, project: str) -> list[dict[str, Any]]:
    name = f"HA network tenant {project}"
    return list(api.get(f"/v2.0/networks?name={name}").json()["networks"])


def test_the_ha_network_goes_with_the_projects_last_ha_router(api: Caller) -> None:
    """Neutron's rule: deleting (or making legacy) the last HA router of a project deletes
    the project's HA network and its subnet; while another HA router remains it stays."""
    one = api.create("routers", "router", ha=True)
    two = api.create("routers", "router", ha=True)
    legacy = api.create("routers", "router", ha=False)
    project = one["tenant_id"]
    (net,) = _ha_networks(api, project)
    assert api.delete(f"/v2.0/routers/{one['id']}").status_code == 204
    assert [n["id"] for n in _ha_networks(api, project)] == [net["id"]]  # two still needs it
    body = {"router": {"ha": False, "admin_state_up": False}}
    r = api.put(f"/v2.0/routers/{two['id']}", body)
    assert r.status_code == 200, r.text
    assert _ha_networks(api, project) == []
    assert api.get(f"/v2.0/subnets?network_id={net['id']}").json()["subnets"] == []
    assert api.delete(f"/v2.0/routers/{legacy['id']}").status_code == 204  # no HA network: fine
    three = api.create("routers", "router", ha=True)  # a new HA router makes a new one
    (again,) = _ha_networks(api, project)
    assert again["id"] != net["id"]
    assert api.delete(f"/v2.0/routers/{three['id']}").status_code == 204
    assert _ha_networks(api, project) == []
