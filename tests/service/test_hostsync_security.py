"""Host state's security part: ports' groups and pairs, group definitions, remote-group
members, and the wake-ups a rule change or a membership change causes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient

from neutrino.domain.hoststate import HostState
from neutrino.service.context import admin_context
from tests.api.test_agent_api import register
from tests.conftest import Caller


def _group(api: Caller, name: str) -> dict[str, Any]:
    return api.create("security-groups", "security_group", name=name)


def _rule(api: Caller, group_id: str, **attrs: Any) -> dict[str, Any]:
    return api.create(
        "security-group-rules", "security_group_rule", security_group_id=group_id, **attrs
    )


def test_state_carries_ports_groups_rules_and_remote_members(
    api: Caller, client: TestClient
) -> None:
    sync = client.app.state.services.hostsync  # type: ignore[attr-defined]
    register(api, "hv1")
    register(api, "hv2", tunnel_ip="198.51.100.2")
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    web = _group(api, "web")
    rule = _rule(
        api,
        web["id"],
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="203.0.113.7/24",
    )
    _rule(api, web["id"], direction="ingress", ethertype="IPv4", remote_group_id=web["id"])
    here = api.port(
        net["id"],
        security_groups=[web["id"]],
        **{"binding:host_id": "hv1"},
        allowed_address_pairs=[{"ip_address": "192.0.2.200/30"}],
    )
    other = api.port(net["id"], security_groups=[web["id"]], **{"binding:host_id": "hv2"})
    bare = api.port(net["id"], security_groups=[], **{"binding:host_id": "hv1"})
    open_ = api.port(
        net["id"], security_groups=[], port_security_enabled=False, **{"binding:host_id": "hv1"}
    )
    state = sync.snapshot(admin_context(), "hv1")
    ports = {p.id: p for p in state.ports}
    assert ports[here["id"]].port_security_enabled
    assert ports[here["id"]].security_groups == (web["id"],)
    pair = ports[here["id"]].allowed_address_pairs[0]
    assert (pair.ip_address, pair.mac_address) == ("192.0.2.200/30", here["mac_address"])
    assert ports[bare["id"]].security_groups == () and ports[bare["id"]].port_security_enabled
    assert not ports[open_["id"]].port_security_enabled
    (group,) = state.security_groups
    assert group.id == web["id"] and group.stateful
    by_id = {r.id: r for r in group.rules}
    ssh = by_id[rule["id"]]
    assert (
        ssh.direction,
        ssh.ethertype,
        ssh.protocol,
        ssh.port_range_min,
        ssh.port_range_max,
        ssh.remote_ip_prefix,
    ) == ("ingress", "IPv4", "tcp", 22, 22, "203.0.113.0/24")
    (remote,) = state.remote_groups
    members = {a["ip_address"] for a in here["fixed_ips"] + other["fixed_ips"]}
    assert remote.id == web["id"] and set(remote.addresses) == members | {"192.0.2.200/30"}
    assert HostState.from_json(state.to_json()) == state


def test_rule_change_and_remote_membership_wake_the_host(api: Caller, client: TestClient) -> None:
    sync = client.app.state.services.hostsync  # type: ignore[attr-defined]
    ctx = admin_context()
    register(api, "hv1")
    register(api, "hv2", tunnel_ip="198.51.100.2")
    net_a, net_b = api.network(), api.network()
    api.subnet(net_a["id"], "192.0.2.0/24")
    api.subnet(net_b["id"], "198.51.100.0/24")
    web, db = _group(api, "web"), _group(api, "db")
    _rule(api, web["id"], direction="ingress", ethertype="IPv4", remote_group_id=db["id"])
    api.port(net_a["id"], security_groups=[web["id"]], **{"binding:host_id": "hv1"})
    first = asyncio.run(sync.watch(ctx, "hv1", None, 0))
    assert first.state is not None and first.state.remote_groups[0].addresses == ()
    # a port joins the remote group on another host and another network: hv1 wakes
    member = api.port(net_b["id"], security_groups=[db["id"]], **{"binding:host_id": "hv2"})
    woke = asyncio.run(sync.watch(ctx, "hv1", first.revision, 2))
    assert woke.state is not None
    assert woke.state.remote_groups[0].addresses == (member["fixed_ips"][0]["ip_address"],)
    # it leaves the group: hv1 wakes again, the address is gone
    r = api.put(f"/v2.0/ports/{member['id']}", {"port": {"security_groups": []}})
    assert r.status_code == 200, r.text
    left = asyncio.run(sync.watch(ctx, "hv1", woke.revision, 2))
    assert left.state is not None and left.state.remote_groups[0].addresses == ()
    # a rule added to the host's group (no network id in the change log) wakes it
    _rule(api, web["id"], direction="ingress", ethertype="IPv6", protocol="ipv6-icmp")
    ruled = asyncio.run(sync.watch(ctx, "hv1", left.revision, 2))
    assert ruled.state is not None
    assert len(ruled.state.security_groups[0].rules) == len(left.state.security_groups[0].rules) + 1
    # a group nobody here uses changes: no wake-up
    other = _group(api, "other")
    _rule(api, other["id"], direction="egress", ethertype="IPv4", protocol="udp")
    assert asyncio.run(sync.watch(ctx, "hv1", ruled.revision, 0.2)).state is None
