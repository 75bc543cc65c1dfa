#!/usr/bin/env python3
"""vmm figures: VM start → every vNIC's port ACTIVE (p50/p99 over N VMs, in the lab, with real
agents), and the import of a provider with 1,000 networks.

Runs as root on this machine (namespaces only, documentation addresses only) and removes
everything it made, even on failure.

Method
------
A lab (``neutrino.lab``: its own neutrino controller on SQLite, two hypervisors with their
supervised agents, VXLAN underlay 198.51.100.0/24, no network node). The vmm runs in this
process on its own SQLite database, with the lab's controller as its provider (over HTTP, as
any provider). The host plug is bench/agent.py's in-process netlink plug (a namespace per
vNIC, ``eth0`` veth-paired to the port's tap on the chosen hypervisor, as libvirt would do
it; ``neutrino.lab.vmmplug`` does the same with ``ip`` commands, several times slower), in
two steps as the vmm calls them: ``prepare`` makes the VM's namespace while the ports are
being created, ``plug`` (timed apart as ``plug_per_vnic``) pairs it with the port's tap.

``start``: two provider networks (VXLAN, a /24 each, no DHCP: the figure is wiring, not a DHCP
client's timers) imported into a data center; N VMs with two vNICs each (one per network),
started one after the other. Each start is timed from the call to its return, which is when
the provider's event API has reported every one of the VM's ports ACTIVE: scheduling (the
providers' agent list), two port creations bound to the host, the plug, the agent wiring the
taps and reporting. (oVirt's VDSM hook sleeps a fixed 15 s here.) Split as
``before_ports_made`` (scheduling, the ports' lookup and bulk create, the final write: the
vmm's and the provider API's share) and ``ports_made_to_all_active`` (the plug and the agent
wiring the taps and reporting them ACTIVE, waited on the event API).

``import``: 1,000 networks created on the provider (bulk), then one ``discover`` + ``import_``
of all of them into a second data center (one provider list call, one transaction).

Output: JSON on stdout (``--json FILE`` too), a summary on stderr.

    sudo .venv/bin/python bench/vmm.py [--vms 50] [--networks 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from pyroute2 import netns as pr_netns
from stats import summary

from agent import wire
from neutrino.lab import Lab
from neutrino.vmm.secrets import Cipher
from neutrino.vmm.storage import migrate
from neutrino.vmm.storage.repo import VmmStore
from neutrino.vmm.usecases.base import ADMIN
from neutrino.vmm.usecases.container import Vmm


def setup(lab: Lab, vmm: Vmm) -> dict[str, Any]:
    creds = lab.state().creds
    base = creds.auth_url.rsplit("/v3", 1)[0]
    provider = vmm.providers.add(
        ADMIN,
        {
            "name": "lab",
            "url": base,
            "auth_url": creds.auth_url,
            "username": creds.username,
            "password": creds.password,
            "project": creds.project_name,
            "sync_interval": 0,
        },
    )
    check = vmm.providers.test(ADMIN, provider["id"])
    if not check.ok:
        raise RuntimeError(f"provider test failed: {check.message}")
    dc = vmm.inventory.add_datacenter(ADMIN, {"name": "dc1"})
    cluster = vmm.inventory.add_cluster(ADMIN, {"name": "c1", "datacenter_id": dc["id"]})
    for hv in ("hv1", "hv2"):
        vmm.inventory.add_host(
            ADMIN, {"name": hv, "cluster_id": cluster["id"], "provider_host": hv}
        )
    return {"provider": provider, "dc": dc, "cluster": cluster}


def start_figure(vmm: Vmm, ctx: dict[str, Any], count: int) -> dict[str, Any]:
    nets = [
        vmm.networks.create(
            ADMIN,
            {
                "provider_id": ctx["provider"]["id"],
                "datacenter_id": ctx["dc"]["id"],
                "name": f"bench-{i}",
                "subnets": [{"cidr": f"192.0.2.{i * 128}/25", "enable_dhcp": False}],
            },
        )
        for i in range(2)
    ]
    profiles = [vmm.inventory.list_profiles(ADMIN, network_id=n["id"])[0]["id"] for n in nets]
    times: list[float] = []
    waits: list[float] = []  # from the ports' creation to the last one ACTIVE (plug + agent)
    for i in range(count):
        vm = vmm.vms.create(
            ADMIN,
            {
                "name": f"v{i}",
                "cluster_id": ctx["cluster"]["id"],
                "nics": [{"name": f"e{j}", "profile_id": p} for j, p in enumerate(profiles)],
            },
        )
        t0 = time.perf_counter()
        started = vmm.vms.start(ADMIN, vm["id"])
        times.append(time.perf_counter() - t0)
        if {p["status"] for p in started["ports"].values()} != {"ACTIVE"}:
            raise RuntimeError(f"VM v{i}: ports not ACTIVE: {started['ports']}")
        waits.append(max(p["waited"] for p in started["ports"].values()))
    return {
        "vms": count,
        "vnics_per_vm": 2,
        "start_to_all_active": summary(times),
        "ports_made_to_all_active": summary(waits),
        "before_ports_made": summary([t - w for t, w in zip(times, waits, strict=True)]),
    }


def import_figure(vmm: Vmm, lab: Lab, ctx: dict[str, Any], count: int) -> dict[str, Any]:
    with lab.controller() as api:
        project = api.session.token().project_id
        api.session.request(
            "PUT", f"/v2.0/quotas/{project}", json={"quota": {"network": -1, "subnet": -1}}
        )
        for first in range(0, count, 250):
            batch = [{"name": f"imp-{i}"} for i in range(first, min(count, first + 250))]
            api.session.request("POST", "/v2.0/networks", json={"networks": batch})
    dc2 = vmm.inventory.add_datacenter(ADMIN, {"name": "dc2"})
    t0 = time.perf_counter()
    offered = vmm.networks.discover(ADMIN, ctx["provider"]["id"], dc2["id"])
    t1 = time.perf_counter()
    imported = vmm.networks.import_(
        ADMIN, ctx["provider"]["id"], dc2["id"], [n["id"] for n in offered]
    )
    t2 = time.perf_counter()
    return {
        "provider_networks": len(offered),
        "imported": len(imported),
        "discover_ms": round((t1 - t0) * 1e3, 1),
        "import_ms": round((t2 - t1) * 1e3, 1),
        "total_ms": round((t2 - t0) * 1e3, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vms", type=int, default=50)
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/vmm.py needs root (namespaces)", file=sys.stderr)
        return 2
    prefix = f"nv{uuid.uuid4().hex[:5]}-"
    directory = Path(tempfile.mkdtemp(prefix="neutrino-bench-", dir="/tmp"))
    directory.chmod(0o755)
    lab = Lab(directory)
    url = f"sqlite:///{directory / 'vmm.db'}"
    migrate.upgrade(url)
    vmm = Vmm(VmmStore(url, Cipher(Fernet.generate_key())), wait_timeout=30)
    result: dict[str, Any] = {}
    try:
        lab.up(hosts=2, network_nodes=0, prefix=prefix, use_env=False, timeout=60)
        plug_times: list[float] = []

        def namespace(vm: Any, nic: Any) -> str:
            return f"{prefix}{vm.name}-{nic.name}"

        def prepare(vm: Any, host: Any, nic: Any) -> None:
            pr_netns.create(namespace(vm, nic))

        def timed_plug(vm: Any, host: Any, nic: Any, port: dict[str, Any]) -> None:
            t0 = time.perf_counter()
            wire(
                f"{prefix}{host.provider_host}",
                namespace(vm, nic),
                port["binding:vif_details"]["tap_name"],
                nic.mac,
                1450,
                port["fixed_ips"][0]["ip_address"] + "/25",
            )
            plug_times.append(time.perf_counter() - t0)

        vmm.set_host_plug(timed_plug, None, prepare)
        ctx = setup(lab, vmm)
        result["start"] = start_figure(vmm, ctx, args.vms)
        result["start"]["plug_per_vnic"] = summary(plug_times)
        result["import"] = import_figure(vmm, lab, ctx, args.networks)
    finally:
        vmm.close()
        lab.down()
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for line in names.splitlines():
            if line.split() and line.split()[0].startswith(prefix):
                subprocess.run(["ip", "netns", "del", line.split()[0]], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    s, i = result["start"]["start_to_all_active"], result["import"]
    print(
        f"VM start → both vNICs ACTIVE over {args.vms} VMs: p50 {s['p50_ms']} ms, "
        f"p99 {s['p99_ms']} ms; import of {i['imported']} networks {i['total_ms']} ms",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
