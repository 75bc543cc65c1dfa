"""The vmm's host plug in a namespace lab: what VDSM's hook (or libvirt) does on a real host.

Each vNIC gets a namespace ``<lab prefix><vm>-<nic>`` (made by ``prepare`` while the port is
being created) whose ``eth0`` (the vNIC's MAC) is
veth-paired to the tap the port's binding names (``vif_details.tap_name``) in the namespace
of the lab host the vmm host stands for (its ``provider_host``). On a migration the tap end
moves from the old host's namespace to the new one (the VM keeps its ``eth0``, address and
all, as a live-migrated guest does, and it announces itself with a gratuitous ARP once the
new host's agent has bridged the tap); unplug deletes the namespace. Only this lab's
namespaces are touched.
"""

from __future__ import annotations

import time
from typing import Any

from neutrino.domain.hoststate import tap_name
from neutrino.lab import netns
from neutrino.lab.runtime import Lab

DEFAULT_MTU = 1450  # VXLAN over the lab's 1500-byte underlay


class LabHostPlug:
    def __init__(self, lab: Lab, mtu: int = DEFAULT_MTU) -> None:
        self.lab = lab
        self.mtu = mtu

    def namespace(self, vm_name: str, nic_name: str) -> str:
        return f"{self.lab.state().prefix}{vm_name}-{nic_name}"

    def prepare(self, vm: Any, host: Any, nic: Any) -> None:
        """The guest side, made while the vmm creates the port (it needs no port)."""
        netns.add_namespace(self.namespace(vm.name, nic.name))

    def plug(self, vm: Any, host: Any, nic: Any, port: dict[str, Any]) -> None:
        state = self.lab.state()
        hv = state.host(host.provider_host)
        details = port.get("binding:vif_details") or {}
        tap = str(details.get("tap_name") or tap_name(port["id"]))
        ns = self.namespace(vm.name, nic.name)
        netns.add_namespace(ns)  # idempotent: made already by ``prepare``
        moved = False
        for other in state.hosts:  # a migration: the VM's side stays, its tap moves over
            if (
                other.netns != hv.netns
                and netns.run(
                    "ip", "-n", other.netns, "-o", "link", "show", tap, check=False
                ).strip()
            ):
                netns.run("ip", "-n", other.netns, "link", "set", tap, "netns", hv.netns)
                moved = True
        netns.plug_vm(hv.netns, tap, ns, nic.mac, int(details.get("mtu") or self.mtu))
        if moved:
            self._announce(hv.netns, tap, ns)

    def _announce(self, hv_ns: str, tap: str, ns: str, timeout: float = 15.0) -> None:
        """What QEMU does after a live migration: once the agent has put the tap in its
        bridge, a gratuitous ARP from the guest, so bridges that learned its MAC behind the
        tunnel learn it here again."""
        deadline = time.monotonic() + timeout
        while "master" not in netns.run("ip", "-n", hv_ns, "-o", "link", "show", tap, check=False):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        address = netns.run("ip", "-n", ns, "-o", "-4", "addr", "show", "eth0", check=False)
        if "inet " in address:
            ip = address.split("inet ", 1)[1].split("/", 1)[0]
            netns.exec_in(
                ns,
                ["busybox", "arping", "-U", "-c", "2", "-w", "1", "-I", "eth0", ip],
                capture_output=True,
                timeout=10,
            )

    def unplug(self, vm: Any, nic: Any) -> None:
        netns.delete_namespace(self.namespace(vm.name, nic.name))
