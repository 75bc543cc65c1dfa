"""The vmm's host plug in a namespace lab: what VDSM's hook (or libvirt) does on a real host.

Each vNIC gets a namespace ``<lab prefix><vm>-<nic>`` whose ``eth0`` (the vNIC's MAC) is
veth-paired to the tap the port's binding names (``vif_details.tap_name``) in the namespace
of the lab host the vmm host stands for (its ``provider_host``). On a migration the tap is
removed from the other hosts first (that takes ``eth0`` with it) and made again on the new
one; unplug deletes the namespace. Only this lab's namespaces are touched.
"""

from __future__ import annotations

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

    def plug(self, vm: Any, host: Any, nic: Any, port: dict[str, Any]) -> None:
        state = self.lab.state()
        hv = state.host(host.provider_host)
        details = port.get("binding:vif_details") or {}
        tap = str(details.get("tap_name") or tap_name(port["id"]))
        ns = self.namespace(vm.name, nic.name)
        netns.add_namespace(ns)
        for other in state.hosts:
            if other.netns != hv.netns:
                netns.run("ip", "-n", other.netns, "link", "del", tap, check=False)
        netns.plug_vm(hv.netns, tap, ns, nic.mac, int(details.get("mtu") or self.mtu))

    def unplug(self, vm: Any, nic: Any) -> None:
        netns.delete_namespace(self.namespace(vm.name, nic.name))
