"""A ``lab vm create`` that fails removes what it made: with no network node there is no DHCP
server, so the VM never gets a lease; the port and the VM's namespace are gone afterwards and
the name is free again (a retry does not say "VM vm1 exists")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from neutrino.lab import Lab, LabError, create_vm
from neutrino.lab.netns import list_namespaces

pytestmark = pytest.mark.skipif(
    shutil.which("busybox") is None or shutil.which("dnsmasq") is None,
    reason="needs busybox (udhcpc) and dnsmasq",
)


def test_failed_vm_create_rolls_back(lab_dir: tuple[Path, str]) -> None:
    directory, prefix = lab_dir
    lab = Lab(directory)
    lab.up(hosts=1, network_nodes=0, prefix=prefix, use_env=False, timeout=60)
    with lab.controller() as api:
        net = api.create_network(name="nodhcp")
        api.create_subnet(net["id"], "192.0.2.0/24")  # DHCP on, but nobody serves it
    with pytest.raises(LabError, match="no DHCP lease"):
        create_vm(lab, "vm1", "hv1", network=net["id"], timeout=8)
    assert f"{prefix}vm1" not in list_namespaces()
    assert "vm1" not in lab.state().vms
    with lab.controller() as api:
        assert [p for p in api.list_ports(network_id=net["id"]) if p["name"] == "vm1"] == []
    with pytest.raises(LabError, match="no DHCP lease"):  # the name is free: same failure
        create_vm(lab, "vm1", "hv1", network=net["id"], timeout=5)
