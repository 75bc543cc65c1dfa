"""The agent's VLAN probe against the real kernel, in a throwaway namespace: it answers for
both ways of tagging, names what the kernel refused, and leaves no link behind. The VLAN
wiring itself needs a kernel that tags; where this one does not, the wiring test skips with
the probe's own reason."""

from __future__ import annotations

import pytest

from neutrino.agent.dataplane.vlan_probe import probe
from tests.kernel.lab import NetnsLab, run


def test_probe_answers_and_cleans_up(lab: NetnsLab) -> None:
    ns = lab.ns("vlanprobe")
    before = run("ip", "-n", ns, "-o", "link", "show")
    found = probe(ns)
    assert run("ip", "-n", ns, "-o", "link", "show") == before  # nothing left behind
    if found.usable:
        assert found.reason == ""
    else:
        assert "8021q" in found.reason and "vlan_filtering" in found.reason


def test_vlan_wiring_needs_a_tagging_kernel(lab: NetnsLab) -> None:
    found = probe(lab.ns("vlanwire"))
    if not found.usable:
        pytest.skip(f"this kernel cannot tag VLANs: {found.reason}")
    pytest.skip("VLAN wiring is not built yet (the probe says this kernel could tag)")
