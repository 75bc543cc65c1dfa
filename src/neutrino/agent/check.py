"""The drift check of one host (``neutrino agent check``, the agent's drift report, and the
trace's ``--verify``): what the kernel has that the intended host state does not, and the
reverse — read only, nothing is changed.

The intended state is the controller's host state for this host, rendered by the same pure
calculations the agent applies, one per role the settings turn on: ``calc.compute_l2``
(devices, FDB, neighbour entries), ``sg_calc.compute_sg`` (the nft tables, their chains, sets
and maps), ``dhcp_calc.desired_dhcp`` (``qdhcp-`` namespaces, dnsmasq and its files) and
``l3_calc.desired_routers`` (``qrouter-`` namespaces: devices, addresses, routes, NAT). The
kernel is read through the data plane's drift reads (``dataplane.drift``,
``dataplane.nft_drift``, ``dataplane.host_drift``), each with sockets of its own, so a check
may run in any thread beside a running agent's apply loop. The agent's repair is unchanged:
a running agent fixes what this lists at its next resync.
"""

from __future__ import annotations

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane.drift import Drift, l2_drift
from neutrino.agent.dhcp_calc import desired_dhcp
from neutrino.agent.l3_calc import desired_routers
from neutrino.agent.main import AgentSettings, netlink_kernel
from neutrino.agent.sg_calc import compute_sg
from neutrino.client import Controller, Session
from neutrino.domain.hoststate import HostState

__all__ = ["check", "host_drift"]


def host_drift(settings: AgentSettings, state: HostState) -> list[Drift]:
    """Every difference between this host's kernel and ``state`` (sorted), for the roles
    ``settings`` turn on."""
    config = settings.agent_config()
    kernel = netlink_kernel(settings.netns)
    try:
        out = l2_drift(kernel, compute_l2(state, config))
    finally:
        close = getattr(kernel, "close", None)
        if close is not None:
            close()
    if settings.security_groups:
        from neutrino.agent.dataplane.nft_drift import sg_drift

        out += sg_drift(settings.netns, compute_sg(state))
    suffix = settings.dhcp_namespace_suffix()
    if settings.dhcp:
        from neutrino.agent.dataplane.dhcp import DhcpManager
        from neutrino.agent.dataplane.host_drift import dhcp_drift

        desired = desired_dhcp(state, namespace_suffix=suffix, underlay_mtu=settings.underlay_mtu)
        out += dhcp_drift(DhcpManager(settings.dhcp_dir(), netns=settings.netns), desired)
    if settings.l3:
        from neutrino.agent.dataplane.host_drift import l3_drift
        from neutrino.agent.dataplane.l3 import L3Manager

        routers = desired_routers(state, config, suffix)
        out += l3_drift(L3Manager(netns=settings.netns, namespace_suffix=suffix), routers)
    return sorted(out)


def check(settings: AgentSettings) -> list[Drift]:
    """One snapshot of this host's state from the controller, then ``host_drift``."""
    with Session(settings.credentials) as session:
        state = Controller(session).watch_host_state(settings.host, None, timeout=5.0).state
    if state is None:  # a watch without ``since`` always answers a snapshot
        raise RuntimeError(f"the controller sent no state for host {settings.host}")
    return host_drift(settings, state)
