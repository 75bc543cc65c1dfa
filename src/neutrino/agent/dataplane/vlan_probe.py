"""Whether this kernel can tag VLANs: probed once at agent start, reported to the controller.

Two ways exist to carry 802.1Q on a Linux bridge: a VLAN sub-interface per tag (the
``8021q`` module: ``ip link add … type vlan``) or one VLAN-aware bridge (``vlan_filtering
1``). The probe makes a throwaway veth pair and tries each, in the agent's namespace, and
deletes what it made (``ntvp<pid>``, its peer ``ntvq<pid>``, ``ntvp<pid>.9``, ``ntvb<pid>``).
What the kernel refuses is kept as the reason, which the controller shows in the
``binding:vif_details`` of every VLAN port it cannot bind here (``service.binding``).

The kernels this project runs its tests on refuse both (no 8021q module, and bridges without
VLAN filtering): VLAN provider networks and trunk sub-ports are then not served by this host.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent.dataplane.netns import inside


@dataclass(frozen=True)
class VlanSupport:
    sub_interfaces: bool  # ip link add … type vlan (8021q)
    vlan_filtering: bool  # a VLAN-aware bridge
    reason: str  # why neither works ("" when one does)

    @property
    def usable(self) -> bool:
        return self.sub_interfaces or self.vlan_filtering


def probe(netns: str | None = None) -> VlanSupport:
    """Try both ways in ``netns`` (this namespace when None) and clean up."""
    tag = os.getpid() % 100_000
    dummy, vlan, bridge = f"ntvp{tag}", f"ntvp{tag}.9", f"ntvb{tag}"
    why: list[str] = []
    with inside(netns), IPRoute() as ipr:
        try:
            ipr.link("add", ifname=dummy, kind="veth", peer=f"ntvq{tag}")
        except NetlinkError as exc:
            return VlanSupport(False, False, f"cannot make a probe link: {exc}")
        try:
            sub = _try(
                ipr,
                why,
                "8021q (type vlan)",
                ifname=vlan,
                kind="vlan",
                link=ipr.link_lookup(ifname=dummy)[0],
                vlan_id=9,
            )
            filtering = _try(
                ipr, why, "bridge vlan_filtering", ifname=bridge, kind="bridge", br_vlan_filtering=1
            )
        finally:
            for name in (vlan, bridge, dummy):
                _delete(ipr, name)
    return VlanSupport(sub, filtering, "" if sub or filtering else "; ".join(why))


def _try(ipr: IPRoute, why: list[str], what: str, **spec: object) -> bool:
    try:
        ipr.link("add", **spec)
    except NetlinkError as exc:
        why.append(f"{what} refused by the kernel ({exc.args[-1] if exc.args else exc})")
        return False
    return True


def _delete(ipr: IPRoute, name: str) -> None:
    found = ipr.link_lookup(ifname=name)
    if found:
        ipr.link("del", index=found[0])
