"""Tear down what an agent built on this host: converge every role to nothing.

Used when an agent stops with ``cleanup_on_exit`` (the all-in-one's default) and by
``neutrino agent cleanup``. Each manager is handed an empty desired state, so the same
ownership rules that steady-state rounds follow decide what goes — nothing is found by a
broad name match:

1. DHCP: every network with a state directory under the agent's DHCP dir: dnsmasq stopped (by
   its pid file), its tap, its ``qdhcp-`` namespace and its files removed; then the DHCP dir;
2. L3: every ``qrouter-<router id><suffix>`` namespace (devices, NAT table, conntrack with it);
3. L2: bridges ``brq…`` and VXLAN devices ``vxlan-…`` deleted, VM taps detached (the taps
   belong to the VMs, not to us);
4. security groups: the nft tables ``inet neutrino`` and ``bridge neutrino``; DSCP marks:
   the table ``bridge neutrino_dscp``;
5. the all-in-one's external veth pair (``dataplane.uplink``), when one is configured.

Each step runs even when an earlier one failed; the failures are raised together at the end
(``TeardownError``) after everything that could go went. Returns what was removed.
"""

from __future__ import annotations

import logging
import shutil
from typing import TYPE_CHECKING, Any

from neutrino.agent.dataplane import DataplaneError, L2Kernel, L2Manager
from neutrino.agent.model import L2State

if TYPE_CHECKING:
    from neutrino.agent.main import AgentSettings
    from neutrino.agent.roles import DhcpApplier

__all__ = ["TeardownError", "teardown"]

log = logging.getLogger(__name__)


class TeardownError(RuntimeError):
    """Some steps of a teardown failed (the message lists them); the others were done."""


def teardown(
    settings: AgentSettings,
    kernel: L2Kernel,
    *,
    dhcp: DhcpApplier | None = None,
    l3: Any = None,
    nft: Any = None,
) -> list[str]:
    """Remove everything this host's agent built (see the module docstring). ``dhcp``,
    ``l3`` and ``nft`` are the running agent's managers when it has them (a running DHCP
    manager also reaps the dnsmasq children it started); else fresh ones are made."""
    from neutrino.agent.dataplane.dhcp import DhcpManager
    from neutrino.agent.dataplane.l3 import L3Manager
    from neutrino.agent.dataplane.nft import NftManager
    from neutrino.agent.dataplane.uplink import remove_uplink

    removed: list[str] = []
    failed: list[str] = []
    suffix = settings.dhcp_namespace_suffix()

    def step(name: str, action: Any) -> None:
        try:
            action()
        except (DataplaneError, OSError) as exc:
            log.error("teardown %s failed: %s", name, exc)
            failed.append(f"{name}: {exc}")

    def dhcp_step() -> None:
        manager = dhcp or DhcpManager(settings.dhcp_dir(), netns=settings.netns)
        report = manager.apply({})
        removed.extend(f"dhcp {n}" for n in report.removed)
        if report.failed:
            raise DataplaneError(str(report.failed))
        directory = settings.dhcp_dir()
        if directory.exists():
            shutil.rmtree(directory)
            removed.append(f"dir {directory}")
        parent = settings.state_dir / "dhcp"  # <state dir>/dhcp, when no other host uses it
        if directory.parent == parent and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()

    def l3_step() -> None:
        manager = l3 or L3Manager(netns=settings.netns, namespace_suffix=suffix)
        report = manager.apply({})
        removed.extend(f"router {r}" for r in report.removed)
        if report.failed:
            raise DataplaneError(str(report.failed))

    def l2_step() -> None:
        report = L2Manager(kernel).apply(L2State())
        removed.extend(report.changes)

    def nft_step() -> None:
        if (nft or NftManager(netns=settings.netns)).remove():
            removed.append("nft tables neutrino")

    def dscp_step() -> None:
        from neutrino.agent.dataplane.dscp import DscpManager

        marks = DscpManager(netns=settings.netns)
        try:
            if marks.remove():
                removed.append("nft table neutrino_dscp")
        finally:
            marks.close()

    def uplink_step() -> None:
        if settings.local_external and remove_uplink(
            settings.local_external.partition(":")[0], settings.netns
        ):
            removed.append(f"uplink {settings.local_external.partition(':')[0]}")

    step("DHCP", dhcp_step)
    step("routers", l3_step)
    step("L2", l2_step)
    step("security groups", nft_step)
    step("DSCP marks", dscp_step)
    step("external uplink", uplink_step)
    if failed:
        raise TeardownError("; ".join(failed))
    return removed
