"""Scheduling as a pure function of hosts, networks and the providers' agents."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.vmm.scheduling import Candidate, NetworkNeed, NoHostAvailable, choose, serves

VX = NetworkNeed("blue", "p1", "prov1", "vxlan", None)
FLAT = NetworkNeed("ext", "p2", "prov2", "flat", "physnet1")


def agent(
    host: str, *, alive: bool = True, up: bool = True, kind: str = "L2 agent", **config: Any
) -> dict[str, Any]:
    return {
        "host": host,
        "alive": alive,
        "admin_state_up": up,
        "agent_type": kind,
        "configurations": config,
    }


def hosts(*names: str) -> list[Candidate]:
    return [Candidate(id=n, name=n, provider_host=f"hv-{n}") for n in names]


def test_serves_each_segment_kind() -> None:
    vx = {"tunnel_ip": "198.51.100.1", "tunnel_types": ["vxlan"]}
    assert serves(vx, "vxlan", None) is None
    assert serves({"tunnel_types": ["vxlan"]}, "vxlan", None) == "no tunnel endpoint for vxlan"
    assert "no gre tunnels" in str(serves(vx, "gre", None))
    assert serves({"bridge_mappings": {"physnet1": "br-ex"}}, "vlan", "physnet1") is None
    assert "physnet2 not mapped (maps physnet1)" in str(
        serves({"interface_mappings": {"physnet1": "eth1"}}, "flat", "physnet2")
    )
    assert serves({}, None, None) is None  # attributes hidden: taken on trust
    assert serves({}, "local", None) is None


def test_picks_the_least_loaded_host_that_serves_every_network() -> None:
    agents = {
        "p1": [
            agent("hv-a", tunnel_ip="198.51.100.1"),
            agent("hv-b", tunnel_ip="198.51.100.2"),
            agent("hv-c", tunnel_ip="198.51.100.3"),
        ],
        "p2": [
            agent("hv-a", interface_mappings={"physnet1": "eth1"}),
            agent("hv-b", interface_mappings={"physnet1": "eth1"}),
        ],
    }
    assert choose("vm", hosts("a", "b", "c"), [VX, FLAT], agents).name == "a"
    assert choose("vm", hosts("a", "b", "c"), [VX, FLAT], agents, load={"a": 2}).name == "b"
    assert choose("vm", hosts("a", "b", "c"), [VX], agents, exclude="a", load={"b": 1}).name == "c"


def test_refusal_names_every_host_and_why() -> None:
    agents = {
        "p1": [
            agent("hv-a", alive=False, tunnel_ip="198.51.100.1"),
            agent("hv-b", up=False, tunnel_ip="198.51.100.2"),
            agent("hv-c", kind="DHCP agent"),
            agent("hv-d", tunnel_types=["vxlan"]),
            agent("hv-e", tunnel_ip="198.51.100.5"),
        ],
        "p2": [agent("hv-e", interface_mappings={"physnet9": "eth1"})],
    }
    with pytest.raises(NoHostAvailable) as err:
        choose("web1", hosts("a", "b", "c", "d", "e"), [VX, FLAT], agents)
    reasons = err.value.reasons
    assert reasons == {
        "a": "its L2 agent on provider prov1 is dead",
        "b": "its L2 agent on provider prov1 is administratively down",
        "c": "provider prov1 has no L2 agent on hv-c",
        "d": "network blue: no tunnel endpoint for vxlan",
        "e": "network ext: physical network physnet1 not mapped (maps physnet9)",
    }
    assert err.value.status == 409 and err.value.type == "NoHostAvailable"
    assert "web1" in err.value.message and "a: its L2 agent" in err.value.message
    with pytest.raises(NoHostAvailable, match="the cluster has no hosts"):
        choose("web1", [], [VX], agents)
