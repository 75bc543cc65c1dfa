"""The drift check and the trace's verify against a real lab (issue 16, done-means 2).

A lab with two hypervisors and a network node (DHCP and routers), agents whose periodic
resync is an hour away (so nothing repairs a fault while the test looks at it): on the
converged lab ``neutrino agent check`` lists nothing on any host; then four faults are made
by hand — an nft set element deleted (vm1's address binding on hv1), an FDB entry removed
(vm2's MAC on the network node), a route deleted in the router's namespace, a host line
removed from a dnsmasq hosts file — and the check lists exactly those, each on its host.
``verify`` then names the hop each fault breaks (anti-spoofing, L2, route) through the
running agents, and agrees once the faults are undone by hand.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from neutrino.cli.main import app
from neutrino.domain.hoststate import tap_name
from neutrino.lab import Lab, create_vm
from neutrino.lab.supervisor import agent_argv, credentials_env, neutrino_argv
from tests.e2e.test_l3_e2e import call, ping, until

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None or shutil.which("dnsmasq") is None,
    reason="needs busybox (udhcpc) and dnsmasq",
)

runner = CliRunner()
OUTSIDE = "198.51.100.0/24"


def _check(lab: Lab, directory: Path, host: str) -> list[str]:
    """``neutrino agent check`` with the flags the lab runs the host's agent with."""
    state = lab.state()
    args = agent_argv(state, directory, host)[len(neutrino_argv()) :]
    args.insert(1, "check")
    done = runner.invoke(app, args, env=credentials_env(state))
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert lines and lines[-1].endswith(f"difference(s) on {host}"), done.output
    assert done.exit_code == (3 if len(lines) > 1 else 0), done.output
    return lines[:-1]


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def test_drift_lists_exactly_the_faults_and_verify_names_the_hop(
    lab_dir: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, prefix = lab_dir
    monkeypatch.setenv("NEUTRINO_AGENT_RESYNC_INTERVAL", "3600")
    lab = Lab(directory)
    state = lab.up(hosts=2, network_nodes=1, prefix=prefix, use_env=False, timeout=60)
    node = next(h for h in state.hosts if h.dhcp)
    hv1 = state.host("hv1")
    with lab.controller() as api:
        blue = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        green = api.create_network(name="green", **{"provider:network_type": "vxlan"})
        sub_b = api.create_subnet(blue["id"], "192.0.2.0/25", gateway_ip="192.0.2.1")
        sub_g = api.create_subnet(green["id"], "192.0.2.128/25", gateway_ip="192.0.2.129")
        rid = call(api, "POST", "/v2.0/routers", {"router": {"name": "r1"}})["router"]["id"]
        for sub in (sub_b, sub_g):
            call(api, "PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
    vm1, lease1 = create_vm(lab, "vm1", "hv1", network=blue["id"])
    vm2, lease2 = create_vm(lab, "vm2", "hv2", network=green["id"])
    with lab.controller() as api:
        routes = [{"destination": OUTSIDE, "nexthop": lease2.ip}]
        call(api, "PUT", f"/v2.0/routers/{rid}", {"router": {"routes": routes}})
        until(
            "router ports ACTIVE",
            lambda: {p["status"] for p in api.list_ports(device_id=rid)} == {"ACTIVE"},
            timeout=30,
        )
    until("vm1 reaches vm2 through r1", lambda: ping(vm1.netns, lease2.ip), timeout=20)
    router_ns = f"qrouter-{rid}-{node.netns}"
    until(
        "the extra route in the router",
        lambda: OUTSIDE.split("/")[0] in _out("ip", "-n", router_ns, "route"),
        timeout=20,
    )
    hosts = [h.name for h in state.hosts]
    drift: dict[str, list[str]] = {}

    def converged() -> bool:
        drift.update({h: _check(lab, directory, h) for h in hosts})
        return not any(drift.values())

    try:
        until("a converged lab: no drift", converged)
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}; the drift left: {drift}") from None

    # the faults
    tap1 = tap_name(vm1.port_id)
    element = f'"{tap1}" . {vm1.mac} . {lease1.ip}'
    _sh(
        "ip",
        "netns",
        "exec",
        hv1.netns,
        "nft",
        f"delete element bridge neutrino p_ip4 {{ {element} }}",
    )
    vni = green["provider:segmentation_id"]
    _sh(
        "ip", "netns", "exec", node.netns, "bridge", "fdb", "del", vm2.mac,
        "dev", f"vxlan-{vni}", "dst", state.host("hv2").ip,
    )  # fmt: skip
    _sh("ip", "-n", router_ns, "route", "del", OUTSIDE)
    hosts_file = directory / "dhcp" / node.name / blue["id"] / "hosts"
    lines = hosts_file.read_text().splitlines()
    gone = next(line for line in lines if vm1.mac in line)
    hosts_file.write_text("".join(f"{line}\n" for line in lines if line != gone))

    assert _check(lab, directory, "hv1") == [
        f"missing nft bridge p_ip4 {tap1} . {vm1.mac} . {lease1.ip}"
    ]
    assert _check(lab, directory, "hv2") == []
    assert _check(lab, directory, node.name) == sorted(
        [
            f"missing dhcp {blue['id']} hosts {gone}",
            f"missing fdb vxlan-{vni} {vm2.mac} dst {state.host('hv2').ip}",
            f"missing router {rid} route {OUTSIDE} via {lease2.ip}",
        ]
    ), "the network node's differences"

    def verify(dst: str) -> dict[str, Any]:
        with lab.controller() as api:
            t = api.trace(
                source={"port_id": vm1.port_id}, destination=dst, protocol="icmp", verify=True
            )
        assert set(t["verify"]["hosts"].values()) == {"answered"}, t["verify"]
        return t["verify"]  # type: ignore[no-any-return]

    found = verify(lease2.ip)
    assert (found["verdict"], found["step"]) == ("differs", "anti-spoofing"), found
    assert any("p_ip4" in line and tap1 in line for line in found["detail"]), found
    _sh(
        "ip",
        "netns",
        "exec",
        hv1.netns,
        "nft",
        f"add element bridge neutrino p_ip4 {{ {element} }}",
    )

    found = verify(lease2.ip)
    assert (found["verdict"], found["step"]) == ("differs", "L2"), found
    assert any(f"fdb vxlan-{vni} {vm2.mac}" in line for line in found["detail"]), found
    _sh(
        "ip", "netns", "exec", node.netns, "bridge", "fdb", "append", vm2.mac,
        "dev", f"vxlan-{vni}", "dst", state.host("hv2").ip, "self", "permanent",
    )  # fmt: skip
    assert verify(lease2.ip)["verdict"] == "agrees"

    found = verify("198.51.100.7")
    assert (found["verdict"], found["step"]) == ("differs", "route"), found
    assert any(f"route {OUTSIDE}" in line for line in found["detail"]), found
    _sh("ip", "-n", router_ns, "route", "add", OUTSIDE, "via", lease2.ip, "proto", "static")
    assert verify("198.51.100.7")["verdict"] == "agrees"
    assert _check(lab, directory, node.name) == [f"missing dhcp {blue['id']} hosts {gone}"]
    lab.down()


def _out(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True).stdout
