"""Ports through the HTTP API: MACs, fixed IPs, bindings, policy, filters."""

from __future__ import annotations

import ipaddress

from tests.conftest import Caller

MEMBER_PORT_KEYS = {
    "id",
    "name",
    "network_id",
    "tenant_id",
    "project_id",
    "mac_address",
    "admin_state_up",
    "status",
    "device_id",
    "device_owner",
    "fixed_ips",
    "allowed_address_pairs",
    "qos_policy_id",
    "extra_dhcp_opts",
    "security_groups",
    "description",
    "binding:vnic_type",
    "port_security_enabled",
    "dns_name",
    "dns_domain",
    "dns_assignment",
    "ip_allocation",
    "numa_affinity_policy",
    "device_profile",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
}
BINDING_KEYS = {"binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details"}
ADMIN_KEYS = BINDING_KEYS | {"resource_request"}  # port-resource-request: admin only


def _net(caller: Caller, cidr: str = "192.0.2.0/24") -> tuple[dict, dict]:  # type: ignore[type-arg]
    net = caller.network()
    return net, caller.subnet(net["id"], cidr)


def test_port_create_shape_mac_and_address(api: Caller) -> None:
    member = api.as_member()
    net, sub = _net(member)
    port = member.port(net["id"], name="p1")
    assert set(port) == MEMBER_PORT_KEYS
    assert port["status"] == "DOWN" and port["mac_address"].startswith("fa:16:3e:")
    [ip] = port["fixed_ips"]
    assert ip["subnet_id"] == sub["id"]
    assert ipaddress.ip_address(ip["ip_address"]) in ipaddress.ip_network(sub["cidr"])
    assert ip["ip_address"] not in ("192.0.2.0", "192.0.2.1", "192.0.2.255")
    admin_view = api.get(f"/v2.0/ports/{port['id']}").json()["port"]
    assert set(admin_view) == MEMBER_PORT_KEYS | ADMIN_KEYS
    assert admin_view["binding:vif_type"] == "unbound"


def test_fixed_ip_requests_and_conflicts(api: Caller) -> None:
    net, sub = _net(api)
    p = api.port(net["id"], fixed_ips=[{"subnet_id": sub["id"], "ip_address": "192.0.2.50"}])
    assert p["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "192.0.2.50"}]
    r = api.post(
        "/v2.0/ports",
        {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "192.0.2.50"}]}},
    )
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "IpAddressAlreadyAllocated"
    r = api.post(
        "/v2.0/ports",
        {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "198.51.100.7"}]}},
    )
    assert r.status_code == 400
    # releasing the port frees its address for the next one
    assert api.delete(f"/v2.0/ports/{p['id']}").status_code == 204
    again = api.port(net["id"], fixed_ips=[{"ip_address": "192.0.2.50"}])
    assert again["fixed_ips"][0]["ip_address"] == "192.0.2.50"


def test_mac_address_rules(api: Caller) -> None:
    net, _ = _net(api)
    p = api.port(net["id"], mac_address="fa:16:3e:00:00:01")
    assert p["mac_address"] == "fa:16:3e:00:00:01"
    r = api.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "mac_address": "fa:16:3e:00:00:01"}}
    )
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "MacAddressInUse"
    r = api.post("/v2.0/ports", {"port": {"network_id": net["id"], "mac_address": "zz:zz"}})
    assert r.status_code == 400
    assert (
        r.json()["NeutronError"]["message"]
        == "Invalid input for mac_address. Reason: 'zz:zz' is not a valid MAC address."
    )
    other, _ = _net(api)  # the same MAC is fine on another network
    assert (
        api.port(other["id"], mac_address="fa:16:3e:00:00:01")["mac_address"] == "fa:16:3e:00:00:01"
    )
    assert len(api.get(f"/v2.0/ports?network_id={net['id']}").json()["ports"]) == 1


def test_exhaustion_is_409(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/29")  # .2 - .6 usable
    got = {api.port(net["id"])["fixed_ips"][0]["ip_address"] for _ in range(5)}
    assert got == {f"192.0.2.{i}" for i in range(2, 7)}
    r = api.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    assert len(api.get(f"/v2.0/ports?network_id={net['id']}").json()["ports"]) == 5


def test_binding_is_admin_only_and_member_view_hides_it(api: Caller) -> None:
    member = api.as_member()
    net, _ = _net(member)
    r = member.post("/v2.0/ports", {"port": {"network_id": net["id"], "binding:host_id": "hv1"}})
    assert r.status_code == 403
    port = api.port(
        net["id"],
        **{"binding:host_id": "hv1", "binding:profile": {"a": 1}},
        tenant_id=member.project_id,
    )
    assert port["binding:host_id"] == "hv1" and port["binding:profile"] == {"a": 1}
    assert port["project_id"] == member.project_id
    seen = member.get(f"/v2.0/ports/{port['id']}").json()["port"]
    assert not BINDING_KEYS & set(seen)
    r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "hv2"}})
    assert r.json()["port"]["binding:host_id"] == "hv2"


def test_update_fixed_ips_and_revision(api: Caller) -> None:
    net, sub = _net(api)
    port = api.port(net["id"], fixed_ips=[{"ip_address": "192.0.2.10"}])
    r = api.put(
        f"/v2.0/ports/{port['id']}",
        {
            "port": {
                "fixed_ips": [
                    {"ip_address": "192.0.2.10"},
                    {"subnet_id": sub["id"], "ip_address": "192.0.2.11"},
                ]
            }
        },
    )
    assert r.status_code == 200
    body = r.json()["port"]
    assert sorted(i["ip_address"] for i in body["fixed_ips"]) == ["192.0.2.10", "192.0.2.11"]
    assert body["revision_number"] == port["revision_number"] + 1
    r = api.put(
        f"/v2.0/ports/{port['id']}", {"port": {"fixed_ips": [{"ip_address": "192.0.2.11"}]}}
    )
    assert [i["ip_address"] for i in r.json()["port"]["fixed_ips"]] == ["192.0.2.11"]
    reuse = api.port(net["id"], fixed_ips=[{"ip_address": "192.0.2.10"}])
    assert reuse["fixed_ips"][0]["ip_address"] == "192.0.2.10"
    r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"network_id": net["id"]}})
    assert r.status_code == 400


def test_port_security_pairs_and_dhcp_opts(api: Caller) -> None:
    net, _ = _net(api)
    port = api.port(
        net["id"],
        allowed_address_pairs=[
            {"ip_address": "192.0.2.200"},
            {"ip_address": "198.51.100.0/24", "mac_address": "fa:16:3e:aa:bb:cc"},
        ],
        extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"}],
    )
    pairs = {(p["ip_address"], p["mac_address"]) for p in port["allowed_address_pairs"]}
    assert pairs == {("192.0.2.200", port["mac_address"]), ("198.51.100.0/24", "fa:16:3e:aa:bb:cc")}
    assert port["extra_dhcp_opts"] == [
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4}
    ]
    r = api.put(
        f"/v2.0/ports/{port['id']}",
        {"port": {"port_security_enabled": False, "security_groups": []}},
    )
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "AddressPairAndPortSecurityRequired"
    r = api.put(
        f"/v2.0/ports/{port['id']}",
        {
            "port": {
                "allowed_address_pairs": [],
                "port_security_enabled": False,
                "security_groups": [],
                "extra_dhcp_opts": [{"opt_name": "bootfile-name", "opt_value": None}],
            }
        },
    )
    assert r.status_code == 200
    body = r.json()["port"]
    assert body["port_security_enabled"] is False and body["extra_dhcp_opts"] == []


def test_list_filters(api: Caller) -> None:
    net, sub = _net(api)
    a = api.port(
        net["id"], device_id="vm-1", device_owner="oVirt", fixed_ips=[{"ip_address": "192.0.2.21"}]
    )
    b = api.port(net["id"], device_id="vm-2", fixed_ips=[{"ip_address": "192.0.2.32"}])

    def ids(query: str) -> set[str]:
        r = api.get("/v2.0/ports?" + query)
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["ports"]}

    assert ids("device_id=vm-1") == {a["id"]}
    assert ids("device_owner=oVirt") == {a["id"]}
    assert ids("fixed_ips=ip_address%3D192.0.2.32") == {b["id"]}
    assert ids(f"fixed_ips=subnet_id%3D{sub['id']}") == {a["id"], b["id"]}
    assert ids("fixed_ips=ip_address_substr%3D.2") == {a["id"], b["id"]}
    assert ids("fixed_ips=ip_address_substr%3D.21") == {a["id"]}
    assert ids(f"mac_address={b['mac_address']}") == {b["id"]}
    assert api.get("/v2.0/ports?bogus=1").status_code == 400


def test_member_cannot_use_other_projects_network(api: Caller) -> None:
    alice, bob = api.as_member(), api.as_member()
    net, _ = _net(alice)
    r = bob.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert r.status_code == 404
    assert r.json()["NeutronError"]["type"] == "NetworkNotFound"
    shared = api.network(shared=True)
    api.subnet(shared["id"], "198.51.100.0/24")
    port = bob.port(shared["id"])
    assert port["project_id"] == bob.project_id
    assert alice.get(f"/v2.0/ports/{port['id']}").status_code == 404


def test_mac_change_moves_eui64_address(api: Caller) -> None:
    net = api.network()
    v6 = api.subnet(net["id"], "2001:db8:5::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    port = api.port(net["id"], mac_address="fa:16:3e:00:00:10")
    assert port["fixed_ips"] == [
        {"subnet_id": v6["id"], "ip_address": "2001:db8:5:0:f816:3eff:fe00:10"}
    ]
    r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"mac_address": "fa:16:3e:00:00:11"}})
    assert r.status_code == 200, r.text
    assert r.json()["port"]["fixed_ips"] == [
        {"subnet_id": v6["id"], "ip_address": "2001:db8:5:0:f816:3eff:fe00:11"}
    ]
