"""Host plug, what VDSM's hook does for oVirt: the libvirt ``<interface>`` element of a vNIC,
made from its port's binding on the provider.

* ``vif_type`` ``bridge`` (Linux bridge agents, neutrino's): a bridge interface on
  ``vif_details.bridge_name`` with the tap device named ``vif_details.tap_name`` (the agent
  wires that name);
* ``ovs``: a bridge interface on ``vif_details.bridge_name`` (default ``br-int``) with an
  ``openvswitch`` virtualport whose ``interfaceid`` is the port id;
* ``tap``: an ethernet interface on the tap named in the details (or ``tap<port[:11]>``).

The MAC is the vNIC's, the MTU the network's. Any other ``vif_type`` (``binding_failed``,
``unbound``...) is refused: the VM must not start with a vNIC nobody will wire.
``domain_xml`` wraps interfaces into a minimal domain, so the result can be checked against
libvirt's schema (``virt-xml-validate``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from neutrino.common.errors import NamedConflict


class UnpluggableBinding(NamedConflict):
    def __init__(self, port_id: str, vif_type: str) -> None:
        super().__init__(
            "PortBindingFailed", f"port {port_id} has vif_type '{vif_type}': nothing to plug"
        )


def interface_element(
    port: Mapping[str, Any], mac: str, mtu: int | None = None, model: str = "virtio"
) -> ET.Element:
    port_id = str(port["id"])
    vif_type = str(port.get("binding:vif_type") or "unbound")
    details = port.get("binding:vif_details") or {}
    tap = str(details.get("tap_name") or f"tap{port_id[:11]}")
    if vif_type in ("bridge", "ovs"):
        iface = ET.Element("interface", type="bridge")
        bridge = details.get("bridge_name") or ("br-int" if vif_type == "ovs" else None)
        if not bridge:
            raise UnpluggableBinding(port_id, f"{vif_type} without a bridge_name")
        ET.SubElement(iface, "mac", address=mac)
        ET.SubElement(iface, "source", bridge=str(bridge))
        if vif_type == "ovs":
            vport = ET.SubElement(iface, "virtualport", type="openvswitch")
            ET.SubElement(vport, "parameters", interfaceid=port_id)
    elif vif_type == "tap":
        iface = ET.Element("interface", type="ethernet")
        ET.SubElement(iface, "mac", address=mac)
    else:
        raise UnpluggableBinding(port_id, vif_type)
    ET.SubElement(iface, "target", dev=tap)
    ET.SubElement(iface, "model", type=model)
    if mtu:
        ET.SubElement(iface, "mtu", size=str(mtu))
    return iface


def interface_xml(port: Mapping[str, Any], mac: str, mtu: int | None = None) -> str:
    return ET.tostring(interface_element(port, mac, mtu), encoding="unicode")


def domain_xml(
    name: str, uuid: str, interfaces: Iterable[ET.Element], memory_mib: int = 256
) -> str:
    """A minimal KVM domain holding ``interfaces`` (for validation and for a person to read)."""
    domain = ET.Element("domain", type="kvm")
    ET.SubElement(domain, "name").text = name
    ET.SubElement(domain, "uuid").text = uuid
    ET.SubElement(domain, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(domain, "vcpu").text = "1"
    os_ = ET.SubElement(domain, "os")
    ET.SubElement(os_, "type", arch="x86_64").text = "hvm"
    devices = ET.SubElement(domain, "devices")
    devices.extend(interfaces)
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode")
