"""Floating-IP bandwidth limits end to end (qos-fip): a lab with a hypervisor, a network node
and the outside world; two VMs behind one router, each with a floating IP. A 100 Mbit/s policy
on the first floating IP limits what its VM sends out and receives through it (iperf3 to and
from the outside), and only that address: the second VM's floating IP on the same router
stays unlimited. Bounds as in ``test_qos_e2e`` (TCP goodput at a 100 Mbit/s bucket); the
figures are printed (``-s``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from neutrino.lab import Lab, create_vm
from neutrino.lab.netns import list_namespaces
from tests.e2e.test_l3_e2e import EXT_HOST, call, until

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None
    or shutil.which("dnsmasq") is None
    or shutil.which("iperf3") is None,
    reason="needs busybox (udhcpc), dnsmasq and iperf3",
)


def iperf(ns: str, server: str, *, reverse: bool = False, seconds: int = 4) -> float:
    argv = ["ip", "netns", "exec", ns, "iperf3", "-c", server, "-J", "-t", str(seconds)]
    argv += ["-O", "1", *(["-R"] if reverse else [])]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return float(result["end"]["sum_received"]["bits_per_second"]) / 1e6


def test_floating_ip_limit_applies_to_that_address_only(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    lab = Lab(directory)
    state = lab.up(
        hosts=1, network_nodes=1, prefix=prefix, use_env=False, timeout=60, external=True
    )
    ext_ns, ext_net = state.external, state.external_network_id
    assert ext_ns is not None and ext_net is not None
    with lab.controller() as api:
        net = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        sub = api.create_subnet(net["id"], "192.0.2.0/24", gateway_ip="192.0.2.1")
        router = call(
            api,
            "POST",
            "/v2.0/routers",
            {"router": {"name": "r1", "external_gateway_info": {"network_id": ext_net}}},
        )["router"]
        rid = router["id"]
        call(api, "PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
    qrouter = f"qrouter-{rid}-{prefix}net1"
    vms = [create_vm(lab, name, "hv1", network=net["id"])[0] for name in ("vm1", "vm2")]
    until("router namespace", lambda: qrouter in list_namespaces())
    fips = []
    with lab.controller() as api:
        for vm in vms:
            body = {"floatingip": {"floating_network_id": ext_net, "port_id": vm.port_id}}
            fips.append(call(api, "POST", "/v2.0/floatingips", body)["floatingip"])
        until(
            "floating IPs ACTIVE",
            lambda: (
                {
                    call(api, "GET", f"/v2.0/floatingips/{f['id']}")["floatingip"]["status"]
                    for f in fips
                }
                == {"ACTIVE"}
            ),
            timeout=30,
        )
    server = subprocess.Popen(
        ["ip", "netns", "exec", ext_ns, "iperf3", "-s", "-B", EXT_HOST],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        until(
            "vm1 -> outside",
            lambda: (
                subprocess.run(
                    ["ip", "netns", "exec", vms[0].netns, "ping", "-c", "1", "-W", "1", EXT_HOST],
                    capture_output=True,
                ).returncode
                == 0
            ),
        )
        load = os.getloadavg()[0]
        with lab.controller() as api:
            policy = call(api, "POST", "/v2.0/qos/policies", {"policy": {"name": "fip"}})
            pid = policy["policy"]["id"]
            for direction in ("egress", "ingress"):
                body = {"max_kbps": 100_000, "max_burst_kbps": 1_000, "direction": direction}
                call(
                    api,
                    "POST",
                    f"/v2.0/qos/policies/{pid}/bandwidth_limit_rules",
                    {"bandwidth_limit_rule": body},
                )
            call(
                api,
                "PUT",
                f"/v2.0/floatingips/{fips[0]['id']}",
                {"floatingip": {"qos_policy_id": pid}},
            )

        def shaped() -> bool:
            out = subprocess.run(
                ["ip", "netns", "exec", qrouter, "tc", "qdisc", "show"],
                capture_output=True,
                text=True,
            ).stdout
            return out.count("htb") == 2  # the gateway's and its ifb's

        until("limit in the router", shaped, timeout=20)
        limited = (iperf(vms[0].netns, EXT_HOST), iperf(vms[0].netns, EXT_HOST, reverse=True))
        # only asserted far above the limit: 2 s tell (the limited ones get 4)
        other = (
            iperf(vms[1].netns, EXT_HOST, seconds=2),
            iperf(vms[1].netns, EXT_HOST, reverse=True, seconds=2),
        )
        print(
            f"\nload {load:.1f}; Mbit/s out / in: limited FIP {limited[0]:.1f} / "
            f"{limited[1]:.1f}, other FIP of the router {other[0]:.0f} / {other[1]:.0f}"
        )
        for rate in limited:
            assert 90.0 <= rate <= 105.0, limited
        for rate in other:
            assert rate >= 200.0, other
    finally:
        server.kill()
        server.wait()
