"""The drift check of one host (``neutrino agent check``): what the kernel has that the
intended host state does not, and the reverse — read only, nothing is changed.

The intended state is the controller's host state for this host (one snapshot of the watch
the agent itself uses), rendered by the same pure calculation the agent applies
(``calc.compute_l2``); the kernel is read through the L2 manager's own reads
(``dataplane.drift``). Today this covers L2 (devices, FDB, neighbour entries); nftables sets,
dnsmasq hosts and router namespaces are issue 16's next steps. The agent's repair is
unchanged: a running agent fixes what this lists at its next resync.
"""

from __future__ import annotations

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane.drift import Drift, l2_drift
from neutrino.agent.main import AgentSettings, netlink_kernel
from neutrino.client import Controller, Session

__all__ = ["check"]


def check(settings: AgentSettings) -> list[Drift]:
    with Session(settings.credentials) as session:
        state = Controller(session).watch_host_state(settings.host, None, timeout=5.0).state
    if state is None:  # a watch without ``since`` always answers a snapshot
        raise RuntimeError(f"the controller sent no state for host {settings.host}")
    desired = compute_l2(state, settings.agent_config())
    kernel = netlink_kernel(settings.netns)
    try:
        return l2_drift(kernel, desired)
    finally:
        close = getattr(kernel, "close", None)
        if close is not None:
            close()
