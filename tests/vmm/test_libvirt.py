"""Host plug: the libvirt <interface> from a port's binding, checked against libvirt's own
schema with virt-xml-validate (Debian's libvirt-clients and libxml2-utils; skipped when they
are not installed)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from neutrino.vmm.libvirt import UnpluggableBinding, domain_xml, interface_element, interface_xml

PORT = "3f1c2b4a-9d8e-4f70-a1b2-c3d4e5f60718"
BRIDGE = {
    "id": PORT,
    "binding:vif_type": "bridge",
    "binding:vif_details": {
        "bridge_name": "brq0123456789a",
        "tap_name": "tap3f1c2b4a-9d",
        "port_filter": True,
    },
}


def test_bridge_binding_becomes_a_bridge_interface() -> None:
    iface = ET.fromstring(interface_xml(BRIDGE, "02:6e:00:00:00:01", mtu=1450))
    assert iface.get("type") == "bridge"
    assert iface.find("mac").get("address") == "02:6e:00:00:00:01"  # type: ignore[union-attr]
    assert iface.find("source").get("bridge") == "brq0123456789a"  # type: ignore[union-attr]
    assert iface.find("target").get("dev") == "tap3f1c2b4a-9d"  # type: ignore[union-attr]
    assert iface.find("mtu").get("size") == "1450"  # type: ignore[union-attr]


def test_ovs_and_tap_bindings() -> None:
    ovs = interface_element(
        {"id": PORT, "binding:vif_type": "ovs", "binding:vif_details": {}}, "02:6e:00:00:00:02"
    )
    assert ovs.find("source").get("bridge") == "br-int"  # type: ignore[union-attr]
    params = ovs.find("virtualport/parameters")
    assert params is not None and params.get("interfaceid") == PORT
    tap = interface_element({"id": PORT, "binding:vif_type": "tap"}, "02:6e:00:00:00:03")
    assert tap.get("type") == "ethernet"
    assert tap.find("target").get("dev") == "tap3f1c2b4a-9d"  # type: ignore[union-attr]


@pytest.mark.parametrize("vif_type", ["binding_failed", "unbound", None])
def test_unwired_bindings_are_refused(vif_type: str | None) -> None:
    with pytest.raises(UnpluggableBinding) as err:
        interface_xml({"id": PORT, "binding:vif_type": vif_type}, "02:6e:00:00:00:01")
    assert err.value.status == 409


def test_domain_with_every_kind_validates_against_libvirts_schema(tmp_path: Path) -> None:
    tool = shutil.which("virt-xml-validate")
    if tool is None or shutil.which("xmllint") is None:
        pytest.skip("virt-xml-validate or xmllint missing (Debian: libvirt-clients, libxml2-utils)")
    ifaces = [
        interface_element(BRIDGE, "02:6e:00:00:00:01", 1450),
        interface_element({"id": PORT, "binding:vif_type": "ovs"}, "02:6e:00:00:00:02"),
        interface_element({"id": PORT, "binding:vif_type": "tap"}, "02:6e:00:00:00:03"),
    ]
    path = tmp_path / "vm.xml"
    path.write_text(domain_xml("vm1", str(uuid.uuid4()), ifaces))
    result = subprocess.run([tool, str(path), "domain"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # and the validator does reject a broken interface (the check can fail)
    path.write_text(
        path.read_text().replace('<model type="virtio" />', '<model type="virtio" /><bogus />', 1)
    )
    bad = subprocess.run([tool, str(path), "domain"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0
