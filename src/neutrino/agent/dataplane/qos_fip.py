"""Floating-IP bandwidth limits (``qos-fip``) on a router's gateway device, with ``tc``.

In the router's namespace, on its ``qg-`` device (``agent.qos_calc.RouterShaping``):

* what a VM sends out through its floating IP leaves by ``qg-`` after SNAT: an ``htb`` root
  (``default 0``: unmatched traffic is not shaped) with a class per limited floating IP and a
  ``u32`` filter on the floating IP as source;
* what arrives for a floating IP enters ``qg-`` before DNAT: a ``u32`` filter on its address
  as destination in ``qg-``'s ``ingress`` qdisc redirects it to the gateway's ifb device,
  whose ``htb`` root has the same classes, matched on the destination.

So only the limited addresses are shaped: another floating IP of the same router, and the
router's own SNAT traffic, are not. A router's shaping is rebuilt whole when it changes (a few
commands, one ``tc -batch``) and remembered, so an unchanged router costs nothing; after a
restart each router is rebuilt once (clearing what a predecessor left). Failures are the
router's own (``QosReport.failed``); its namespace missing means the L3 role has not built it
yet (``LinkNotFound``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from neutrino.agent.dataplane.base import DataplaneError
from neutrino.agent.dataplane.qos import QosReport, run_tool
from neutrino.agent.qos_calc import RouterShaping, Tbf

FIRST_CLASS = 10


def _class(tbf: Tbf) -> str:
    return f"htb rate {tbf.rate}bit ceil {tbf.rate}bit burst {tbf.burst} cburst {tbf.burst}"


def commands(shaping: RouterShaping) -> tuple[list[str], list[str]]:
    """(tc batch lines, whether an ifb is needed as ``["ifb"]`` or ``[]``) for a router."""
    dev, ifb, lines = shaping.device, shaping.ifb, []
    out = [(i, f) for i, f in enumerate(shaping.fips, FIRST_CLASS) if f.from_vm is not None]
    into = [(i, f) for i, f in enumerate(shaping.fips, FIRST_CLASS) if f.to_vm is not None]
    if out:
        lines.append(f"qdisc add dev {dev} root handle 1: htb default 0")
        for i, f in out:
            assert f.from_vm is not None
            lines.append(f"class add dev {dev} parent 1: classid 1:{i} {_class(f.from_vm)}")
            lines.append(
                f"filter add dev {dev} parent 1: protocol ip prio 1 u32 "
                f"match ip src {f.address}/32 flowid 1:{i}"
            )
    if into:
        lines.append(f"qdisc add dev {ifb} root handle 1: htb default 0")
        lines.append(f"qdisc add dev {dev} ingress")
        for i, f in into:
            assert f.to_vm is not None
            lines.append(f"class add dev {ifb} parent 1: classid 1:{i} {_class(f.to_vm)}")
            lines.append(
                f"filter add dev {ifb} parent 1: protocol ip prio 1 u32 "
                f"match ip dst {f.address}/32 flowid 1:{i}"
            )
            lines.append(
                f"filter add dev {dev} parent ffff: protocol ip prio 1 u32 "
                f"match ip dst {f.address}/32 action mirred egress redirect dev {ifb}"
            )
    return lines, (["ifb"] if into else [])


class RouterQosManager:
    def __init__(self) -> None:
        self.applied: dict[str, RouterShaping] = {}

    def _clear(self, shaping: RouterShaping) -> None:
        """Remove what of ours the gateway may have; what is not there is no error."""
        ns, dev = shaping.namespace, shaping.device
        run_tool("ip", ns, ["link", "show", "dev", dev])  # LinkNotFound: not built yet
        for args in (
            ["qdisc", "del", "dev", dev, "root"],
            ["qdisc", "del", "dev", dev, "ingress"],
        ):
            with contextlib.suppress(DataplaneError):  # nothing there
                run_tool("tc", ns, args)
        with contextlib.suppress(DataplaneError):
            run_tool("ip", ns, ["link", "del", shaping.ifb])

    def apply(self, desired: Mapping[str, RouterShaping]) -> QosReport:
        report = QosReport()
        for router_id in set(self.applied) - set(desired):
            del self.applied[router_id]  # its gateway or namespace went with it
        for router_id, shaping in sorted(desired.items()):
            if self.applied.get(router_id) == shaping:
                report.applied.append(router_id)
                continue
            self.applied.pop(router_id, None)
            try:
                self._clear(shaping)
                lines, ifb = commands(shaping)
                if ifb:
                    run_tool("ip", shaping.namespace, ["link", "add", shaping.ifb, "type", "ifb"])
                    run_tool("ip", shaping.namespace, ["link", "set", shaping.ifb, "up"])
                if lines:
                    run_tool("tc", shaping.namespace, ["-batch", "-"], "\n".join(lines) + "\n")
            except DataplaneError as exc:
                report.failed[router_id] = exc
                continue
            self.applied[router_id] = shaping
            report.applied.append(router_id)
            report.changes.append(
                f"router {router_id[:8]}: {len(shaping.fips)} floating IPs limited"
            )
        return report
