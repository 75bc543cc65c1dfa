"""DHCP scheduling through the API: DHCP agents get ``network:dhcp`` ports on networks with
DHCP-enabled subnets, and the serving host's state carries the DHCP entries."""

from __future__ import annotations

from typing import Any

from tests.api.test_agent_api import register, state
from tests.conftest import Caller


def dhcp_ports(api: Caller, network_id: str) -> list[dict[str, Any]]:
    r = api.get(f"/v2.0/ports?network_id={network_id}&device_owner=network:dhcp")
    assert r.status_code == 200, r.text
    return r.json()["ports"]  # type: ignore[no-any-return]


def network_node(api: Caller, host: str = "net1") -> None:
    register(api, host, tunnel_ip="198.51.100.9")
    register(api, host, agent_type="DHCP agent")


def test_dhcp_agent_registration_schedules_existing_networks(api: Caller) -> None:
    net = api.network(name="n1")
    sub = api.subnet(net["id"], "192.0.2.0/24")
    no_dhcp = api.network(name="n2")
    api.subnet(no_dhcp["id"], "198.51.100.0/24", enable_dhcp=False)
    assert dhcp_ports(api, net["id"]) == []
    network_node(api)
    ports = dhcp_ports(api, net["id"])
    assert len(ports) == 1
    port = ports[0]
    assert port["binding:host_id"] == "net1"
    assert port["binding:vif_type"] == "bridge"
    assert port["device_id"].startswith("dhcp") and port["device_id"].endswith(net["id"])
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [sub["id"]]
    assert dhcp_ports(api, no_dhcp["id"]) == []
    network_node(api)  # re-registration (config unchanged) does not add a second port
    assert len(dhcp_ports(api, net["id"])) == 1


def test_subnet_changes_add_readdress_and_remove_the_dhcp_port(api: Caller) -> None:
    network_node(api)
    net = api.network(name="n1")
    off = api.subnet(net["id"], "198.51.100.0/24", enable_dhcp=False)
    assert dhcp_ports(api, net["id"]) == []
    on = api.subnet(net["id"], "192.0.2.0/24")
    (port,) = dhcp_ports(api, net["id"])
    assert port["fixed_ips"] == [{"subnet_id": on["id"], "ip_address": "192.0.2.2"}]  # lowest
    r = api.put(f"/v2.0/subnets/{off['id']}", {"subnet": {"enable_dhcp": True}})
    assert r.status_code == 200, r.text
    (port,) = dhcp_ports(api, net["id"])
    assert sorted(f["subnet_id"] for f in port["fixed_ips"]) == sorted([on["id"], off["id"]])
    r = api.put(f"/v2.0/subnets/{off['id']}", {"subnet": {"enable_dhcp": False}})
    assert r.status_code == 200, r.text
    (port,) = dhcp_ports(api, net["id"])
    assert [f["subnet_id"] for f in port["fixed_ips"]] == [on["id"]]
    assert api.delete(f"/v2.0/subnets/{on['id']}").status_code == 204
    assert dhcp_ports(api, net["id"]) == []


def test_network_delete_removes_dhcp_ports(api: Caller) -> None:
    network_node(api)
    net = api.network(name="n1")
    api.subnet(net["id"], "192.0.2.0/24")
    assert len(dhcp_ports(api, net["id"])) == 1
    assert api.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    assert api.get("/v2.0/ports?device_owner=network:dhcp").json()["ports"] == []


def test_two_agents_per_network_when_configured(api: Caller) -> None:
    scheduler = api.client.app.state.services.subnets.dhcp  # type: ignore[attr-defined]
    api.client.app.state.services.subnets.dhcp = type(scheduler)(  # type: ignore[attr-defined]
        agents_per_network=2
    )
    network_node(api, "net1")
    network_node(api, "net2")
    network_node(api, "net3")
    net = api.network(name="n1")
    api.subnet(net["id"], "192.0.2.0/24")
    hosts = sorted(p["binding:host_id"] for p in dhcp_ports(api, net["id"]))
    assert len(hosts) == 2 and len(set(hosts)) == 2


def test_host_state_of_the_dhcp_host_has_the_entries(api: Caller) -> None:
    network_node(api)
    net = api.network(name="n1")
    sub = api.subnet(net["id"], "192.0.2.0/24", dns_nameservers=["192.0.2.53"])
    vm = api.port(
        net["id"], extra_dhcp_opts=[{"opt_name": "tftp-server", "opt_value": "192.0.2.9"}]
    )
    (dhcp_port,) = dhcp_ports(api, net["id"])
    body = state(api, "net1")["state"]
    (served,) = body["dhcp"]
    assert served["network_id"] == net["id"]
    assert served["port"]["id"] == dhcp_port["id"]
    assert served["port"]["mac_address"] == dhcp_port["mac_address"]
    assert served["port"]["device_name"] == "tap" + dhcp_port["id"][:11]
    (entry,) = served["entries"]
    assert entry["port_id"] == vm["id"] and entry["mac_address"] == vm["mac_address"]
    assert entry["fixed_ips"] == [
        {"subnet_id": sub["id"], "ip_address": vm["fixed_ips"][0]["ip_address"]}
    ]
    assert entry["extra_dhcp_opts"] == [
        {"opt_name": "tftp-server", "opt_value": "192.0.2.9", "ip_version": 4}
    ]
    assert [n["id"] for n in body["networks"]] == [net["id"]]
    # another host without the DHCP role gets no DHCP data
    register(api, "hv1")
    assert state(api, "hv1")["state"]["dhcp"] == []


def test_only_the_dhcp_code_makes_system_owned_ports(api: Caller) -> None:
    """The host state marks the scheduler's DHCP port ``system_owned`` (the agent leaves it
    unfiltered); a port an admin makes by hand with ``device_owner: network:dhcp`` is not, and
    gets the project's default group like any filtered port."""
    network_node(api)
    net = api.network(name="n1")
    api.subnet(net["id"], "192.0.2.0/24")
    (made,) = dhcp_ports(api, net["id"])
    claimed = api.port(
        net["id"], device_owner="network:dhcp", device_id="by-hand", **{"binding:host_id": "net1"}
    )
    assert claimed["security_groups"] != []
    ports = {p["id"]: p for p in state(api, "net1")["state"]["ports"]}
    assert ports[made["id"]]["system_owned"] is True
    assert ports[claimed["id"]]["system_owned"] is False
    assert ports[claimed["id"]]["port_security_enabled"] is True
    # a new owner typed on the system's own port takes the mark away: it is only a claim now
    r = api.put(f"/v2.0/ports/{made['id']}", {"port": {"device_owner": "compute:nova"}})
    assert r.status_code == 200, r.text
    ports = {p["id"]: p for p in state(api, "net1")["state"]["ports"]}
    assert ports[made["id"]]["system_owned"] is False
