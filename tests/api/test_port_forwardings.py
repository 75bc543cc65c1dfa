"""Floating IP port forwardings through the HTTP API: the life cycle, the floating IP's view
and router, Neutron's validation and errors (collisions, ranges, the internal address, a
floating IP used by a port or by forwardings), list semantics, policy between projects, and
what port deletes and fixed-IP changes do to forwardings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller

PF_KEYS = {
    "id",
    "protocol",
    "internal_ip_address",
    "internal_port_id",
    "external_port",
    "internal_port",
    "external_port_range",
    "internal_port_range",
    "description",
}


def _error(r: Any, status: int, kind: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["NeutronError"]
    assert err["type"] == kind, err
    return str(err["message"])


@pytest.fixture
def world(api: Caller) -> dict[str, Any]:
    """A member's network behind a router on an external network, a free floating IP and
    two ports."""
    ext = api.network(**{"router:external": True})
    api.subnet(ext["id"], "203.0.113.0/24")
    member = api.as_member()
    net = member.network()
    subnet = member.subnet(net["id"], "192.0.2.0/24")
    router = member.create("routers", "router", external_gateway_info={"network_id": ext["id"]})
    r = member.put(
        f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]}
    )
    assert r.status_code == 200, r.text
    r = member.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"]}})
    assert r.status_code == 201, r.text
    ports = [member.port(net["id"]) for _ in range(2)]
    return {
        "member": member,
        "ext": ext,
        "net": net,
        "subnet": subnet,
        "router": router,
        "fip": r.json()["floatingip"],
        "ports": ports,
    }


def _url(fip: dict[str, Any], pf_id: str = "") -> str:
    return f"/v2.0/floatingips/{fip['id']}/port_forwardings" + (f"/{pf_id}" if pf_id else "")


def _pf(caller: Caller, fip: dict[str, Any], port: dict[str, Any], **attrs: Any) -> Any:
    body = {
        "protocol": "tcp",
        "internal_port_id": port["id"],
        "internal_ip_address": port["fixed_ips"][0]["ip_address"],
        **attrs,
    }
    return caller.post(_url(fip), {"port_forwarding": body})


def test_life_cycle_and_floating_ip_view(world: dict[str, Any]) -> None:
    member, fip, port = world["member"], world["fip"], world["ports"][0]
    assert member.get(_url(fip).rsplit("/", 1)[0]).json()["floatingip"]["port_forwardings"] == []
    r = _pf(member, fip, port, internal_port=1111, external_port=2222, description="web")
    assert r.status_code == 201, r.text
    pf = r.json()["port_forwarding"]
    assert set(pf) == PF_KEYS
    assert pf["external_port"] == 2222 and pf["internal_port"] == 1111
    assert pf["external_port_range"] == "2222:2222" and pf["internal_port_range"] == "1111:1111"
    assert pf["internal_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert pf["description"] == "web"
    assert member.get(_url(fip, pf["id"])).json()["port_forwarding"] == pf

    shown = member.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
    assert shown["router_id"] == world["router"]["id"]  # the first forwarding sets it
    assert shown["port_id"] is None
    assert shown["port_forwardings"] == [
        {
            "id": pf["id"],
            "protocol": "tcp",
            "internal_ip_address": pf["internal_ip_address"],
            "internal_port_id": port["id"],
            "external_port": 2222,
            "internal_port": 1111,
        }
    ]

    r = member.put(_url(fip, pf["id"]), {"port_forwarding": {"internal_port": 3333}})
    assert r.status_code == 200, r.text
    assert r.json()["port_forwarding"]["internal_port"] == 3333
    assert r.json()["port_forwarding"]["external_port"] == 2222

    msg = _error(member.delete(f"/v2.0/floatingips/{fip['id']}"), 409, "FipInUseByPortForwarding")
    assert fip["id"] in msg
    assert member.delete(_url(fip, pf["id"])).status_code == 204
    _error(member.get(_url(fip, pf["id"])), 404, "PortForwardingNotFound")
    shown = member.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
    assert shown["router_id"] is None and shown["port_forwardings"] == []  # the last clears it
    assert member.delete(f"/v2.0/floatingips/{fip['id']}").status_code == 204


def test_two_ports_tcp_and_udp_and_ranges(world: dict[str, Any]) -> None:
    member, fip = world["member"], world["fip"]
    a, b = world["ports"]
    assert _pf(member, fip, a, internal_port=80, external_port=8080).status_code == 201
    assert (
        _pf(member, fip, b, protocol="udp", internal_port=53, external_port=8080).status_code == 201
    )  # same external port, other protocol
    r = _pf(member, fip, b, internal_port_range="9000:9009", external_port_range="10000:10009")
    assert r.status_code == 201, r.text
    pf = r.json()["port_forwarding"]
    assert pf["external_port"] is None and pf["external_port_range"] == "10000:10009"
    # 1-N: one internal port behind a range
    r = _pf(member, fip, b, internal_port=22, external_port_range="2200:2210")
    assert r.status_code == 201, r.text
    # N-1 is refused
    msg = _error(
        _pf(member, fip, a, internal_port_range="100:110", external_port=3000), 400, "BadRequest"
    )
    assert "N-N or 1-N" in msg
    short = member.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
    ranged = [f for f in short["port_forwardings"] if "external_port" not in f]
    assert len(short["port_forwardings"]) == 4 and len(ranged) == 2


def test_collisions_are_neutrons_400(world: dict[str, Any]) -> None:
    member, fip = world["member"], world["fip"]
    a, b = world["ports"]
    assert _pf(member, fip, a, internal_port=1111, external_port=2222).status_code == 201
    # the same floating IP, protocol and external port to another destination
    msg = _error(_pf(member, fip, b, internal_port=3333, external_port=2222), 400, "BadRequest")
    assert "port collision with the external_port_range" in msg
    # another external port to the same destination
    msg = _error(_pf(member, fip, a, internal_port=1111, external_port=5555), 400, "BadRequest")
    assert "internal_port_range" in msg
    # overlapping ranges on the outside
    _error(
        _pf(member, fip, b, internal_port_range="1:10", external_port_range="2215:2224"),
        400,
        "BadRequest",
    )
    r = _pf(member, fip, b, internal_port_range="1:10", external_port_range="2223:2232")
    assert r.status_code == 201, r.text
    # an update into a collision is refused too, and changes nothing
    pf_id = r.json()["port_forwarding"]["id"]
    _error(
        member.put(_url(fip, pf_id), {"port_forwarding": {"external_port_range": "2222:2231"}}),
        400,
        "BadRequest",
    )
    assert member.get(_url(fip, pf_id)).json()["port_forwarding"]["external_port_range"] == (
        "2223:2232"
    )


@pytest.mark.parametrize(
    "attrs",
    [
        {"internal_port": 1111, "external_port": 333333},
        {"internal_port": 444444, "external_port": 3333},
        {"internal_port": 0, "external_port": 3333},
        {"internal_port": "x", "external_port": 3333},
        {"internal_port": True, "external_port": 3333},
        {"internal_port_range": "5:4", "external_port_range": "5:6"},
        {"internal_port_range": "1:2:3", "external_port_range": "1:3"},
        {"internal_port_range": "a:b", "external_port_range": "1:2"},
        {"internal_port": 1, "internal_port_range": "1:1", "external_port": 2},
        {"external_port": 2},
        {"internal_port": 1},
        {"internal_port": 1, "external_port": 2, "protocol": "icmp"},
        {"internal_port": 1, "external_port": 2, "protocol": 6},
        {"internal_port": 1, "external_port": 2, "internal_ip_address": "not-an-ip"},
        {"internal_port": 1, "external_port": 2, "internal_port_id": "nope"},
        {"internal_port": 1, "external_port": 2, "floatingip_id": "x"},
        {"internal_port": 1, "external_port": 2, "description": "d" * 256},
    ],
)
def test_bad_bodies_are_400(world: dict[str, Any], attrs: dict[str, Any]) -> None:
    r = _pf(world["member"], world["fip"], world["ports"][0], **attrs)
    assert r.status_code == 400, r.text
    assert "NeutronError" in r.json()


def test_out_of_range_update_is_400(world: dict[str, Any]) -> None:
    member, fip = world["member"], world["fip"]
    pf = _pf(member, fip, world["ports"][0], internal_port=1111, external_port=3333).json()
    for attrs in ({"external_port": 108343}, {"internal_port": 108343}, {"id": "x"}):
        r = member.put(_url(fip, pf["port_forwarding"]["id"]), {"port_forwarding": attrs})
        assert r.status_code == 400, r.text


def test_internal_address_must_be_the_ports(api: Caller, world: dict[str, Any]) -> None:
    member, fip, port = world["member"], world["fip"], world["ports"][0]
    msg = _error(
        _pf(member, fip, port, internal_ip_address="192.0.2.250", internal_port=1, external_port=2),
        400,
        "BadRequest",
    )
    assert "not suitable for internal neutron port" in msg
    # a port on a network no router connects to the floating network
    lonely = member.network()
    member.subnet(lonely["id"], "198.51.100.0/24")
    other = member.port(lonely["id"])
    msg = _error(_pf(member, fip, other, internal_port=1, external_port=2), 400, "BadRequest")
    assert "is not reachable from subnet" in msg
    # a port of another project is not seen
    stranger = api.as_member()
    snet = stranger.network()
    stranger.subnet(snet["id"], "192.0.2.0/24")
    theirs = stranger.port(snet["id"])
    _error(_pf(member, fip, theirs, internal_port=1, external_port=2), 404, "PortNotFound")


def test_floating_ip_used_by_a_port_and_port_with_a_floating_ip(world: dict[str, Any]) -> None:
    member, ext = world["member"], world["ext"]
    a, b = world["ports"]
    r = member.post(
        "/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"], "port_id": a["id"]}}
    )
    assert r.status_code == 201, r.text
    used = r.json()["floatingip"]
    # a floating IP associated with a port takes no forwardings
    _error(
        _pf(member, used, b, internal_port=1, external_port=2),
        409,
        "FloatingIPPortAlreadyAssociated",
    )
    # a port that has a floating IP takes none either
    _error(
        _pf(member, world["fip"], a, internal_port=1, external_port=2),
        409,
        "PortHasBindingFloatingIP",
    )
    # a floating IP with forwardings cannot be associated with a port
    fip = world["fip"]
    assert _pf(member, fip, b, internal_port=1, external_port=2).status_code == 201
    r = member.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": b["id"]}})
    _error(r, 409, "FipInUseByPortForwarding")
    # updating its description keeps its router
    r = member.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"description": "pf"}})
    assert r.status_code == 200, r.text
    assert r.json()["floatingip"]["router_id"] == world["router"]["id"]


def test_list_filters_fields_sort_and_pages(world: dict[str, Any]) -> None:
    member, fip = world["member"], world["fip"]
    a, b = world["ports"]
    made = []
    for i, (port, proto) in enumerate([(a, "tcp"), (b, "tcp"), (a, "udp"), (b, "udp")]):
        r = _pf(member, fip, port, protocol=proto, internal_port=100 + i, external_port=5000 - i)
        assert r.status_code == 201, r.text
        made.append(r.json()["port_forwarding"])
    url = _url(fip)
    got = member.get(url, params={"protocol": "udp"}).json()["port_forwardings"]
    assert {p["id"] for p in got} == {made[2]["id"], made[3]["id"]}
    got = member.get(url, params={"internal_port_id": a["id"]}).json()["port_forwardings"]
    assert {p["id"] for p in got} == {made[0]["id"], made[2]["id"]}
    got = member.get(url, params={"external_port": 4999}).json()["port_forwardings"]
    assert [p["id"] for p in got] == [made[1]["id"]]
    got = member.get(url, params={"fields": ["id", "external_port"]}).json()["port_forwardings"]
    assert all(set(p) == {"id", "external_port"} for p in got)
    got = member.get(url, params={"sort_key": "external_port", "sort_dir": "asc"}).json()
    assert [p["external_port"] for p in got["port_forwardings"]] == [4997, 4998, 4999, 5000]
    _error(
        member.get(url, params={"internal_port": 100}), 400, "PortForwardingNotSupportFilterField"
    )
    assert member.get(url, params={"bogus": 1}).status_code == 400
    assert member.get(url, params={"external_port": "x"}).status_code == 400
    # keyset pages: two at a time, by external port
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 2, "sort_key": "external_port", "sort_dir": "desc"}
    while True:
        page = member.get(url, params=params).json()
        seen += [p["external_port"] for p in page["port_forwardings"]]
        if len(page["port_forwardings"]) < 2:
            break
        params["marker"] = page["port_forwardings"][-1]["id"]
    assert seen == [5000, 4999, 4998, 4997]


def test_policy_between_projects(api: Caller, world: dict[str, Any]) -> None:
    member, fip = world["member"], world["fip"]
    pf = _pf(member, fip, world["ports"][0], internal_port=1, external_port=2).json()
    pf_id = pf["port_forwarding"]["id"]
    other = api.as_member()
    _error(other.get(_url(fip)), 404, "FloatingIPNotFound")
    _error(other.get(_url(fip, pf_id)), 404, "FloatingIPNotFound")
    _error(other.delete(_url(fip, pf_id)), 404, "FloatingIPNotFound")
    _error(
        _pf(other, fip, world["ports"][0], internal_port=3, external_port=4),
        404,
        "FloatingIPNotFound",
    )
    reader = api.as_reader(member.project_id)
    assert reader.get(_url(fip, pf_id)).status_code == 200
    assert reader.delete(_url(fip, pf_id)).status_code == 403
    r = reader.put(_url(fip, pf_id), {"port_forwarding": {"description": "x"}})
    assert r.status_code == 403
    # the admin sees and manages it
    assert api.get(_url(fip)).json()["port_forwardings"][0]["id"] == pf_id
    # a forwarding is found only under its own floating IP
    r = member.post(
        "/v2.0/floatingips", {"floatingip": {"floating_network_id": world["ext"]["id"]}}
    )
    _error(member.get(_url(r.json()["floatingip"], pf_id)), 404, "PortForwardingNotFound")


def test_port_delete_and_fixed_ip_change_drop_forwardings(world: dict[str, Any]) -> None:
    member, fip = world["member"], world["fip"]
    a, b = world["ports"]
    pf_a = _pf(member, fip, a, internal_port=1, external_port=2).json()["port_forwarding"]
    pf_b = _pf(member, fip, b, internal_port=1, external_port=3).json()["port_forwarding"]
    # b moves to another address: its forwarding to the old one goes
    r = member.put(
        f"/v2.0/ports/{b['id']}",
        {"port": {"fixed_ips": [{"subnet_id": world["subnet"]["id"], "ip_address": "192.0.2.99"}]}},
    )
    assert r.status_code == 200, r.text
    _error(member.get(_url(fip, pf_b["id"])), 404, "PortForwardingNotFound")
    assert member.get(_url(fip, pf_a["id"])).status_code == 200
    assert member.delete(f"/v2.0/ports/{a['id']}").status_code == 204
    _error(member.get(_url(fip, pf_a["id"])), 404, "PortForwardingNotFound")
    shown = member.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
    assert shown["router_id"] is None and shown["port_forwardings"] == []


def test_missing_floating_ip_and_bad_bodies(world: dict[str, Any]) -> None:
    member = world["member"]
    ghost = {"id": "00000000-0000-0000-0000-000000000000"}
    _error(member.get(_url(ghost)), 404, "FloatingIPNotFound")
    r = member.post(_url(world["fip"]), {"nope": {}})
    assert r.status_code == 400
    r = member.post(_url(world["fip"]), [1, 2])
    assert r.status_code == 400
    r = member.put(_url(world["fip"], "x"), {"port_forwarding": {"description": "d"}})
    _error(r, 404, "PortForwardingNotFound")


def test_the_family_is_advertised(api: Caller) -> None:
    names = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {
        "floating-ip-port-forwarding",
        "floating-ip-port-forwarding-description",
        "floating-ip-port-forwarding-port-ranges",
        "floating-ip-port-forwarding-detail",
        "expose-port-forwarding-in-fip",
    } <= names
