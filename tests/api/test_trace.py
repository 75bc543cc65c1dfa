"""``POST /neutrino/v1/trace`` through the HTTP API, on SQLite and PostgreSQL: a real store,
real agents' registrations (tunnel endpoints), ports bound to hosts; the verdicts, the named
rule and fix, the policy (another project's port is 404, hops of other projects redacted)
and hostile bodies (400 with Neutron's envelope, never a 500)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_agent_api import register
from tests.conftest import Caller

PATH = "/neutrino/v1/trace"


def _error(r: Any, status: int, kind: str) -> str:
    assert r.status_code == status, r.text
    err = r.json()["NeutronError"]
    assert err["type"] == kind, err
    return str(err["message"])


def _trace(caller: Caller, source: dict[str, Any], dst: str, **packet: Any) -> dict[str, Any]:
    r = caller.post(PATH, {"trace": {"source": source, "destination": dst, **packet}})
    assert r.status_code == 200, r.text
    return r.json()["trace"]  # type: ignore[no-any-return]


def _world(member: Caller, api: Caller) -> dict[str, Any]:
    register(api, "hv1", tunnel_ip="198.51.100.1")
    register(api, "hv2", tunnel_ip="198.51.100.2")
    net = member.network(name="web")
    member.subnet(net["id"], "192.0.2.0/24")
    ssh = member.create("security-groups", "security_group", name="ssh")
    member.create(
        "security-group-rules",
        "security_group_rule",
        security_group_id=ssh["id"],
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="192.0.2.0/24",
    )
    a = member.port(net["id"], name="a")
    b = member.port(net["id"], name="b", security_groups=[ssh["id"]])
    api.put(f"/v2.0/ports/{a['id']}", {"port": {"binding:host_id": "hv1"}})
    api.put(f"/v2.0/ports/{b['id']}", {"port": {"binding:host_id": "hv2"}})
    return {"net": net, "a": a, "b": b, "ssh": ssh, "b_ip": b["fixed_ips"][0]["ip_address"]}


def test_allowed_and_refused_with_rule_and_fix(api: Caller) -> None:
    member = api.as_member()
    w = _world(member, api)
    ok = _trace(member, {"port_id": w["a"]["id"]}, w["b_ip"], protocol="tcp", destination_port=22)
    assert ok["verdict"] == "delivered", ok
    steps = [h["step"] for h in ok["hops"]]
    assert steps == ["source", "anti-spoofing", "egress rules", "L2", "ingress rules", "deliver"]
    assert "198.51.100.1" in ok["hops"][3]["detail"] and "198.51.100.2" in ok["hops"][3]["detail"]
    assert "group ssh" in ok["hops"][4]["detail"]
    assert all("only by conntrack" in h["detail"] for h in ok["reply"])
    no = _trace(member, {"port_id": w["a"]["id"]}, w["b_ip"], protocol="tcp", destination_port=80)
    assert no["verdict"] == "dropped"
    drop = no["hops"][-1]
    assert drop["step"] == "ingress rules" and drop["verdict"] == "drop"
    assert "no ingress rule allows tcp/80" in drop["detail"] and "group ssh" in drop["detail"]
    assert w["ssh"]["id"] in drop["fix"] and "--dst-port 80" in drop["fix"]


def test_spoofed_source_and_admin_down(api: Caller) -> None:
    member = api.as_member()
    w = _world(member, api)
    spoof = _trace(
        member,
        {"port_id": w["a"]["id"]},
        w["b_ip"],
        protocol="tcp",
        destination_port=22,
        source_ip="192.0.2.250",
    )
    assert spoof["hops"][-1]["step"] == "anti-spoofing"
    assert "192.0.2.250" in spoof["hops"][-1]["detail"]
    member.put(f"/v2.0/ports/{w['b']['id']}", {"port": {"admin_state_up": False}})
    down = _trace(member, {"port_id": w["a"]["id"]}, w["b_ip"], protocol="tcp", destination_port=22)
    assert down["verdict"] == "dropped" and "admin down" in down["hops"][-1]["detail"]


def test_another_projects_port_is_404_and_its_hops_are_redacted(api: Caller) -> None:
    owner = api.as_member()
    w = _world(owner, api)
    stranger = api.as_member()
    r = stranger.post(
        PATH,
        {
            "trace": {
                "source": {"port_id": w["a"]["id"]},
                "destination": w["b_ip"],
                "protocol": "icmp",
            }
        },
    )
    _error(r, 404, "PortNotFound")
    reader = api.as_reader(owner.project_id)
    seen = _trace(reader, {"port_id": w["a"]["id"]}, w["b_ip"], protocol="icmp")
    assert seen["verdict"] == "dropped"  # b's group admits only tcp/22
    # a port of the stranger on a shared network: the owner's trace to it hides its details
    shared = api.network(name="shared", shared=True)
    api.subnet(shared["id"], "198.51.100.0/24")
    mine = owner.port(shared["id"], name="mine")
    theirs = stranger.port(shared["id"], name="theirs")
    for p in (mine, theirs):
        api.put(f"/v2.0/ports/{p['id']}", {"port": {"binding:host_id": "hv1"}})
    t = _trace(
        owner,
        {"port_id": mine["id"]},
        theirs["fixed_ips"][0]["ip_address"],
        protocol="tcp",
        destination_port=5432,
    )
    last = t["hops"][-1]
    assert t["verdict"] == "dropped" and last["step"] == "ingress rules"
    assert last["object"] == "an object of another project" and last["fix"] is None
    assert theirs["id"] not in str(t)
    admin_view = _trace(
        api,
        {"port_id": mine["id"]},
        theirs["fixed_ips"][0]["ip_address"],
        protocol="tcp",
        destination_port=5432,
    )
    assert "group default" in admin_view["hops"][-1]["detail"]


def test_outside_source_needs_admin_or_a_visible_floating_ip(api: Caller) -> None:
    member = api.as_member()
    w = _world(member, api)
    ext = api.network(name="public", **{"router:external": True})
    api.subnet(ext["id"], "203.0.113.0/24")
    body = {
        "source": {"network_id": ext["id"], "ip_address": "203.0.113.1"},
        "destination": w["b_ip"],
        "protocol": "icmp",
    }
    _error(member.post(PATH, {"trace": body}), 403, "PolicyNotAuthorized")
    t = _trace(api, body["source"], w["b_ip"], protocol="icmp")
    assert t["hops"][0]["step"] == "source" and t["verdict"] == "dropped"
    not_ext = {**body, "source": {"network_id": w["net"]["id"], "ip_address": "203.0.113.1"}}
    _error(api.post(PATH, {"trace": not_ext}), 400, "HTTPBadRequest")


@pytest.mark.parametrize(
    "trace",
    [
        None,
        [],
        "x",
        {},
        {"destination": "192.0.2.1"},
        {"source": {"port_id": "P"}, "destination": "not-an-ip"},
        {"source": {"port_id": "P"}, "destination": 42},
        {"source": {"port_id": "P"}, "destination": "192.0.2.1", "protocol": "tcp"},
        {
            "source": {"port_id": "P"},
            "destination": "192.0.2.1",
            "protocol": "tcp",
            "destination_port": 0,
        },
        {
            "source": {"port_id": "P"},
            "destination": "192.0.2.1",
            "protocol": "tcp",
            "destination_port": True,
        },
        {
            "source": {"port_id": "P"},
            "destination": "192.0.2.1",
            "protocol": "tcp",
            "destination_port": "22",
        },
        {"source": {"port_id": "P"}, "destination": "192.0.2.1", "protocol": "bogus"},
        {"source": {"port_id": "P"}, "destination": "192.0.2.1", "protocol": ["tcp"]},
        {
            "source": {"port_id": "P"},
            "destination": "192.0.2.1",
            "protocol": "icmp",
            "destination_port": 22,
        },
        {"source": {"port_id": "P"}, "destination": "192.0.2.1", "icmp_type": 300},
        {"source": {"port_id": "P"}, "destination": "192.0.2.1", "source_ip": "2001:db8::1"},
        {"source": {"port_id": "P"}, "destination": "192.0.2.1", "source_mac": "zz"},
        {"source": {"port_id": ""}, "destination": "192.0.2.1"},
        {"source": {"port_id": "P", "extra": 1}, "destination": "192.0.2.1"},
        {"source": {"port_id": {"$ne": 1}}, "destination": "192.0.2.1"},
        {"source": {"port_id": "P"}, "destination": "192.0.2.1", "surprise": True},
        {"source": {"network_id": "N", "ip_address": "2001:db8::1"}, "destination": "192.0.2.1"},
    ],
)
def test_hostile_bodies_are_400(api: Caller, trace: Any) -> None:
    r = api.post(PATH, {"trace": trace} if trace is not None else "garbage")
    _error(r, 400, "HTTPBadRequest")


def test_unknown_port_is_404_and_no_token_is_401(api: Caller) -> None:
    r = api.post(PATH, {"trace": {"source": {"port_id": "nope"}, "destination": "192.0.2.1"}})
    _error(r, 404, "PortNotFound")
    r = api.client.post(PATH, json={"trace": {}})
    assert r.status_code == 401
