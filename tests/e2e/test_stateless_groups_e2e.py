"""Stateless security groups end to end: a live controller, two agents (threads) managing
namespace hypervisors, groups and rules made through the API, checked with ping and
``conntrack -L`` in the hypervisor namespaces.

VMs: ``a`` (hv1) and ``b`` (hv2) in a stateless group (``stateful: false``, the two default
egress rules only), ``ext`` (hv2) with port security disabled."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from neutrino.agent.main import Agent
from neutrino.client import Controller, Credentials, Session
from neutrino.common.settings import Settings
from neutrino.domain.hoststate import tap_name
from neutrino.store.uow import Store
from tests.conftest import ADMIN_PASSWORD
from tests.e2e.test_overlay_e2e import wait_for
from tests.e2e.test_security_groups_e2e import ping, start_two_agents
from tests.kernel.lab import NetnsLab
from tests.live import live_server


@pytest.fixture
def url(settings: Settings, store: Store) -> Iterator[str]:
    with live_server(settings, store) as base:
        yield base


def conntrack(hv: str, a: str, b: str) -> list[str]:
    """``conntrack -L`` lines of ``hv`` for flows between ``a`` and ``b`` (IPv4, any zone)."""
    listed = subprocess.run(
        ["ip", "netns", "exec", hv, "conntrack", "-L"], capture_output=True, text=True, check=True
    ).stdout
    pairs = (f"src={a} dst={b} ", f"src={b} dst={a} ")
    return [line for line in listed.splitlines() if any(p in line for p in pairs)]


def test_stateless_group_needs_reply_rules_and_leaves_conntrack_empty(url: str) -> None:
    creds = Credentials(
        auth_url=f"{url}/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin"
    )
    lab = NetnsLab()
    agents: list[Agent] = []
    session = Session(creds)
    api = Controller(session)

    def post(plural: str, singular: str, **attrs: Any) -> dict[str, Any]:
        body = session.request("POST", f"/v2.0/{plural}", json={singular: attrs})
        return body[singular]  # type: ignore[no-any-return]

    try:
        hvs = start_two_agents(creds, lab, session, agents)
        net = api.create_network(name="stateless-e2e", **{"provider:network_type": "vxlan"})
        api.create_subnet(net["id"], "192.0.2.0/24", enable_dhcp=False)
        stateless = post("security-groups", "security_group", name="sl", stateful=False)
        stateful = post("security-groups", "security_group", name="sf")
        assert stateless["stateful"] is False and stateful["stateful"] is True
        assert {r["direction"] for r in stateless["security_group_rules"]} == {"egress"}
        specs: dict[str, tuple[str, dict[str, Any]]] = {
            "a": ("hv1", {"security_groups": [stateless["id"]]}),
            "b": ("hv2", {"security_groups": [stateless["id"]]}),
            "ext": ("hv2", {"security_groups": [], "port_security_enabled": False}),
        }
        ports, vms, ips = {}, {}, {}
        for name, (hv, attrs) in specs.items():
            ports[name] = api.create_port(net["id"], **{"binding:host_id": hv}, **attrs)
            ips[name] = ports[name]["fixed_ips"][0]["ip_address"]
            vms[name] = lab.vm(
                name,
                hvs[hv],
                tap_name(ports[name]["id"]),
                ports[name]["mac_address"],
                f"{ips[name]}/24",
            )
        for p in ports.values():
            assert api.wait_port(p["id"], "ACTIVE", timeout=15)["plugged"]

        # (a) egress allowed, no ingress rule: the echo goes out, the reply is dropped;
        # the same rules in a stateful group let the reply through
        assert not ping(vms["a"], ips["ext"], 2)
        assert not ping(vms["a"], ips["b"])
        api.update_port(ports["a"]["id"], security_groups=[stateful["id"]])
        wait_for("stateful: replies return", lambda: ping(vms["a"], ips["ext"]), timeout=10)
        api.update_port(ports["a"]["id"], security_groups=[stateless["id"]])
        wait_for("stateless again", lambda: not ping(vms["a"], ips["ext"]), timeout=10)
        for hv in hvs.values():  # the stateful phase's entries (ours) would linger 30 s
            subprocess.run(["ip", "netns", "exec", hv, "conntrack", "-F"], capture_output=True)

        # (b) ingress rules too: traffic flows both ways and nothing is tracked
        for ethertype in ("IPv4", "IPv6"):
            post(
                "security-group-rules",
                "security_group_rule",
                security_group_id=stateless["id"],
                direction="ingress",
                ethertype=ethertype,
            )
        wait_for("ingress allowed", lambda: ping(vms["a"], ips["b"]), timeout=10)
        assert ping(vms["b"], ips["a"], 3) and ping(vms["a"], ips["b"], 3)
        assert ping(vms["a"], ips["ext"], 3) and ping(vms["ext"], ips["a"], 3)
        for hv in hvs.values():
            assert conntrack(hv, ips["a"], ips["b"]) == []
            assert conntrack(hv, ips["a"], ips["ext"]) == []
    finally:
        for agent in agents:
            agent.close()
        session.close()
        lab.cleanup()
