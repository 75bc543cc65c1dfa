"""``/v2.0/network-ip-availabilities``: Neutron's counts, admin-only, list semantics."""

from __future__ import annotations

import ipaddress

from tests.conftest import Caller

PATH = "/v2.0/network-ip-availabilities"


def test_counts_per_network_and_subnet(api: Caller) -> None:
    member = api.as_member()
    net = member.network(name="counted")
    v4 = member.subnet(
        net["id"],
        "192.0.2.0/24",
        allocation_pools=[
            {"start": "192.0.2.10", "end": "192.0.2.19"},
            {"start": "192.0.2.100", "end": "192.0.2.104"},
        ],
    )
    v6 = member.subnet(net["id"], "2001:db8::/120")
    for _ in range(3):
        member.port(net["id"], fixed_ips=[{"subnet_id": v4["id"]}])
    other = api.network(name="empty")
    shown = api.get(f"{PATH}/{net['id']}").json()["network_ip_availability"]
    assert shown["network_name"] == "counted" and shown["project_id"] == member.project_id
    subs = {s["subnet_id"]: s for s in shown["subnet_ip_availability"]}
    assert subs[v4["id"]]["total_ips"] == 15 and subs[v4["id"]]["used_ips"] == 3
    assert subs[v4["id"]]["cidr"] == "192.0.2.0/24" and subs[v4["id"]]["ip_version"] == 4
    v6_total = sum(
        int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1
        for p in v6["allocation_pools"]
    )  # the pools as the subnet shows them
    assert subs[v6["id"]]["total_ips"] == v6_total and v6_total > 200
    assert shown["total_ips"] == 15 + v6_total and shown["used_ips"] == 3
    listed = api.get(PATH).json()["network_ip_availabilities"]
    assert {n["network_id"] for n in listed} >= {net["id"], other["id"]}
    empty = next(n for n in listed if n["network_id"] == other["id"])
    assert (empty["total_ips"], empty["used_ips"], empty["subnet_ip_availability"]) == (0, 0, [])
    # filters, fields, sorting and paging
    r = api.get(f"{PATH}?network_id={net['id']}&fields=network_id&fields=used_ips").json()
    assert r["network_ip_availabilities"] == [{"network_id": net["id"], "used_ips": 3}]
    r = api.get(f"{PATH}?ip_version=6").json()["network_ip_availabilities"]
    assert [n["network_id"] for n in r] == [net["id"]]
    assert len(r[0]["subnet_ip_availability"]) == 1
    r = api.get(f"{PATH}?project_id={member.project_id}").json()["network_ip_availabilities"]
    assert [n["network_id"] for n in r] == [net["id"]]
    ordered = api.get(f"{PATH}?sort_key=used_ips&sort_dir=desc").json()["network_ip_availabilities"]
    assert ordered[0]["network_id"] == net["id"]
    page = api.get(f"{PATH}?limit=1&sort_key=network_name").json()
    assert len(page["network_ip_availabilities"]) == 1
    nxt = [link for link in page["network_ip_availabilities_links"] if link["rel"] == "next"]
    assert nxt and "marker=" in nxt[0]["href"]
    # admin-only: others list nothing and are told nothing exists
    assert member.get(PATH).json()["network_ip_availabilities"] == []
    r = member.get(f"{PATH}/{net['id']}")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "NetworkNotFound"
    # bad input is 4xx
    for path in (
        f"{PATH}?bogus=1",
        f"{PATH}?sort_key=cidr",
        f"{PATH}?marker=nope",
        f"{PATH}/%00",
        f"{PATH}/nope",
        f"{PATH}?limit=x",
    ):
        r = api.get(path)
        assert 400 <= r.status_code < 500, (path, r.text)
    assert api.post(PATH, {}).status_code == 405
