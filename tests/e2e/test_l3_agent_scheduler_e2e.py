"""The L3 agent scheduler end to end: a lab with one hypervisor, two network nodes and the
outside world. A legacy router's VM reaches the outside through the node hosting it; an admin
removes the router from that node's L3 agent (its ``qrouter-`` namespace goes) and adds it to
the other node's (the namespace appears there, the router's ports bound to it), and the VM
reaches the outside again through the new node."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from neutrino.lab import Lab, create_vm
from neutrino.lab.netns import list_namespaces
from tests.e2e.test_l3_e2e import EXT_HOST, call, ping, until

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None or shutil.which("dnsmasq") is None,
    reason="needs busybox (udhcpc) and dnsmasq",
)


def test_router_moves_to_another_l3_agent(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    lab = Lab(directory)
    state = lab.up(
        hosts=1, network_nodes=2, prefix=prefix, use_env=False, timeout=90, external=True
    )
    ext_net = state.external_network_id
    assert ext_net is not None
    with lab.controller() as api:
        net = api.create_network(name="blue", **{"provider:network_type": "vxlan"})
        sub = api.create_subnet(net["id"], "192.0.2.0/24", gateway_ip="192.0.2.1")
        router = call(
            api,
            "POST",
            "/v2.0/routers",
            {"router": {"name": "r", "external_gateway_info": {"network_id": ext_net}}},
        )["router"]
        rid = router["id"]
        call(api, "PUT", f"/v2.0/routers/{rid}/add_router_interface", {"subnet_id": sub["id"]})
        record, lease = create_vm(lab, "vm1", "hv1", network=net["id"])
        vm = record.netns
        assert lease.router == "192.0.2.1"
        until("the VM reaches the outside", lambda: ping(vm, EXT_HOST), timeout=30)

        agents = call(api, "GET", "/v2.0/agents?agent_type=L3 agent")["agents"]
        by_host = {a["host"]: a["id"] for a in agents}
        (first,) = [a["host"] for a in api.l3_agents_hosting(rid)]
        (other,) = set(by_host) - {first}
        old_ns, new_ns = f"qrouter-{rid}-{prefix}{first}", f"qrouter-{rid}-{prefix}{other}"
        assert old_ns in list_namespaces() and new_ns not in list_namespaces()

        call(api, "DELETE", f"/v2.0/agents/{by_host[first]}/l3-routers/{rid}")
        gone = until("the old node drops the router", lambda: old_ns not in list_namespaces())
        assert api.l3_agents_hosting(rid) == []
        started = time.monotonic()
        call(api, "POST", f"/v2.0/agents/{by_host[other]}/l3-routers", {"router_id": rid})
        until("the new node builds the router", lambda: new_ns in list_namespaces(), timeout=30)
        until("the VM reaches the outside again", lambda: ping(vm, EXT_HOST), timeout=30)
        back = time.monotonic() - started
        assert [a["host"] for a in api.l3_agents_hosting(rid)] == [other]
        ports = call(api, "GET", f"/v2.0/ports?device_id={rid}")["ports"]
        assert {p["binding:host_id"] for p in ports} == {other}
        assert old_ns not in list_namespaces()
        print(
            f"\nL3 agent scheduler: router dropped by {first} {gone:.2f} s after the remove; "
            f"traffic through {other} {back:.2f} s after the add; "
            f"load {os.getloadavg()[0]:.1f}"
        )
