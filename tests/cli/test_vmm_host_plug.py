"""The ``vmm_host_plug`` setting: who plugs the VMs the vmm starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrino.cli.vmm_app import host_plug
from neutrino.lab import LabError


def test_empty_leaves_the_plug_to_the_hypervisor() -> None:
    assert host_plug("") is None


@pytest.mark.parametrize("setting", ["libvirt", "lab", "lab:", "vdsm:/x"])
def test_anything_but_a_lab_dir_is_refused(setting: str) -> None:
    with pytest.raises(ValueError, match="neither empty nor lab:DIR"):
        host_plug(setting)


def test_a_lab_that_is_not_there_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="no lab in"):
        host_plug(f"lab:{tmp_path}")
