"""The L2 drift check on the fake kernel and on a real one (the contract suite's backends):
nothing on a converged host, exactly the injected faults after hand changes, and no write."""

from __future__ import annotations

from neutrino.agent.dataplane import L2Manager
from neutrino.agent.dataplane.drift import Drift, l2_drift
from neutrino.agent.model import (
    FLOOD_MAC,
    AttachmentSpec,
    BridgeSpec,
    FdbEntry,
    L2State,
    NeighEntry,
    VxlanSpec,
)
from tests.agent.test_fake_dataplane import Backend, backend  # noqa: F401  (fixture)

BR, VX, TAP = "brq-drift0001", "vxlan-1001", "tapdrift0001"
MAC = "fa:16:3e:00:00:12"


def desired() -> L2State:
    return L2State(
        bridges={BR: BridgeSpec(BR, 1450)},
        vxlans={VX: VxlanSpec(VX, 1001, "198.51.100.1", "eth1", 1450, BR)},
        attachments={TAP: AttachmentSpec(TAP, BR, 1450)},
        fdb=frozenset({FdbEntry(VX, FLOOD_MAC, "198.51.100.2"), FdbEntry(VX, MAC, "198.51.100.2")}),
        neigh=frozenset({NeighEntry(VX, "192.0.2.12", MAC)}),
    )


def test_converged_host_has_no_drift_and_faults_are_listed_exactly(
    backend: Backend,  # noqa: F811
) -> None:
    backend.add_device("eth1")
    backend.add_device(TAP)
    kernel = backend.kernel
    want = desired()
    L2Manager(kernel).apply(want)
    assert l2_drift(kernel, want) == []

    kernel.remove_fdb(FdbEntry(VX, MAC, "198.51.100.2"))
    kernel.remove_neigh(NeighEntry(VX, "192.0.2.12", MAC))
    kernel.ensure_fdb(FdbEntry(VX, "fa:16:3e:00:00:99", "198.51.100.3"))
    kernel.detach(TAP)
    found = l2_drift(kernel, want)
    assert found == sorted(
        [
            Drift(f"fdb {VX} {MAC} dst 198.51.100.2", "missing"),
            Drift(f"fdb {VX} fa:16:3e:00:00:99 dst 198.51.100.3", "extra"),
            Drift(f"neigh {VX} 192.0.2.12 lladdr {MAC}", "missing"),
            Drift(TAP, "master", BR, "None"),
        ]
    )
    assert l2_drift(kernel, want) == found  # reading changed nothing
    L2Manager(kernel).apply(want)
    assert l2_drift(kernel, want) == []


def test_missing_and_undesired_devices(backend: Backend) -> None:  # noqa: F811
    backend.add_device("eth1")
    kernel = backend.kernel
    want = desired()
    L2Manager(kernel).apply(want)
    other = L2State(bridges={"brq-drift0002": BridgeSpec("brq-drift0002", 1500)})
    found = l2_drift(kernel, other)
    assert Drift("brq-drift0002", "missing") in found
    assert Drift(BR, "extra", "", "bridge") in found and Drift(VX, "extra", "", "vxlan") in found
    kernel.set_mtu(BR, 1400)
    assert Drift(BR, "mtu", "1450", "1400") in l2_drift(kernel, want)
