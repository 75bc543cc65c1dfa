"""The agent's wiring: settings → session → watcher → loop → dataplane, in two threads.

``AgentSettings`` gathers everything the agent needs: controller credentials (the usual
``OS_*`` environment: OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME,
OS_USER_DOMAIN_NAME / OS_PROJECT_DOMAIN_NAME defaulting to ``Default``), the host name, the
network namespace to manage (``--netns``, the lab; None = this host), the tunnel IP, the
underlay device and the physical interface mappings, and the DHCP role (``dhcp``: this host
also registers a "DHCP agent" and runs dnsmasq per served network, with its files under
``dhcp_state_dir``; under ``--netns`` the ``qdhcp-`` namespaces get the suffix ``-<netns>`` so
several simulated hosts on one machine stay apart) and the L3 role (``l3``: an "L3 agent"
and a ``qrouter-<id>`` namespace, same suffix, per hosted router). Security groups
(``security_groups``, on by default, ``--no-security-groups`` to turn off) are enforced with
nftables in the managed namespace (``agent.roles.SecurityRole``). ``local_external``
(``PHYSNET:GATEWAY/PREFIX``, the all-in-one) makes a veth pair for a flat external network on
a machine without a spare NIC (``dataplane.uplink``) and maps the physnet to it. ``Agent``
builds the pieces and runs them: the watcher in its own thread (it only sets the loop's dirty
flag), the apply loop over the roles (``agent.roles``) in another (the only kernel writer).

Stopping: with ``cleanup_on_exit`` the agent tears down everything it built when it stops
(``agent.teardown``); without it (the default of ``neutrino agent``) the data plane keeps
running, so VMs keep their network across an agent restart or upgrade, and ``neutrino agent
cleanup`` removes it later. Files live under the state dir (``NEUTRINO_STATE_DIR``, default
/var/lib/neutrino as root): the DHCP role's in ``<state dir>/dhcp/<host>``.

Failure: a thread that dies records its exception, stops the other, and ``Agent.run``
re-raises it — the agent exits non-zero and its supervisor restarts it (a restart is cheap:
level-triggered reconciliation rewrites nothing that still matches).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neutrino.agent import qos_calc
from neutrino.agent.dataplane import L2Kernel, L2Manager
from neutrino.agent.drift_report import CheckAnswerer, DriftReport
from neutrino.agent.ha_report import POLL_INTERVAL, HaReporter
from neutrino.agent.loop import AgentLoop
from neutrino.agent.metrics import AgentMetrics
from neutrino.agent.model import AgentConfig
from neutrino.agent.qos_role import QosRole
from neutrino.agent.roles import DhcpRole, L2Role, L3Role, Role, SecurityRole
from neutrino.agent.watcher import Watcher
from neutrino.client import Controller, Credentials, Session
from neutrino.common import heap
from neutrino.common.settings import default_state_dir

if TYPE_CHECKING:
    from neutrino.agent.linkwatch import LinkWatcher

__all__ = ["Agent", "AgentSettings", "parse_mappings", "state_root"]

log = logging.getLogger(__name__)


def state_root(env: dict[str, str] | None = None) -> Path:
    """The state dir every neutrino command shares (``NEUTRINO_STATE_DIR`` or the default)."""
    given = (os.environ if env is None else env).get("NEUTRINO_STATE_DIR")
    return Path(given) if given else default_state_dir()


def traversable(directory: Path, root: Path) -> None:
    """Make ``directory`` and its parents up to ``root`` searchable by everyone (``o+x``, not
    readable): dnsmasq drops root and must reach its files, and the state dir is made 0700."""
    directory.mkdir(parents=True, exist_ok=True)
    chain = [directory, *(p for p in directory.parents if p.is_relative_to(root))]
    for path in chain:
        mode = path.stat().st_mode & 0o777
        if mode & 0o011 != 0o011:
            path.chmod(mode | 0o011)


def parse_mappings(text: str) -> dict[str, str]:
    """``physnet1:eth2,physnet2:eth3`` → {physnet: interface}."""
    out: dict[str, str] = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        physnet, sep, dev = item.partition(":")
        if not sep or not physnet or not dev:
            raise ValueError(f"bad interface mapping {item!r} (want PHYSNET:DEVICE)")
        out[physnet] = dev
    return out


@dataclass(frozen=True)
class AgentSettings:
    """Everything an agent process is configured with (see the module docstring)."""

    credentials: Credentials
    host: str
    tunnel_ip: str
    underlay_dev: str = "eth1"
    underlay_mtu: int = 1500
    netns: str | None = None
    interface_mappings: dict[str, str] = field(default_factory=dict)
    resync_interval: float = 30.0
    heartbeat_interval: float = 10.0
    poll_timeout: float = 30.0
    dhcp: bool = False
    dhcp_state_dir: Path | None = None  # default <state dir>/dhcp/<host>
    state_dir: Path = field(default_factory=state_root)
    l3: bool = False  # L3 role: register an "L3 agent", build qrouter- namespaces
    watch_links: bool = True  # wake on tap plug/unplug (needs the real kernel)
    security_groups: bool = True  # nft security groups (agent.roles; needs the real kernel)
    qos: bool = True  # bandwidth limits with tc (agent.qos_role; needs the real kernel)
    local_external: str | None = None  # PHYSNET:GATEWAY/PREFIX: make a veth uplink for it
    cleanup_on_exit: bool = False  # tear down what was built when the agent stops
    metrics_listen: str | None = None  # HOST:PORT of the agent's Prometheus metrics
    drift_report: bool = True  # check the kernel before each periodic resync; answer checks

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **flags: Any) -> AgentSettings:
        """``OS_*`` and ``NEUTRINO_AGENT_*`` variables, flags (not None) on top."""
        e = dict(os.environ if env is None else env)
        given = {k: v for k, v in flags.items() if v is not None}
        host = given.pop("host", None) or e.get("NEUTRINO_AGENT_HOST") or os.uname().nodename
        tunnel_ip = given.pop("tunnel_ip", None) or e.get("NEUTRINO_AGENT_TUNNEL_IP")
        if not tunnel_ip:
            raise KeyError("NEUTRINO_AGENT_TUNNEL_IP")
        if given.get("resync_interval") is None and e.get("NEUTRINO_AGENT_RESYNC_INTERVAL"):
            given["resync_interval"] = float(e["NEUTRINO_AGENT_RESYNC_INTERVAL"])
        if given.get("dhcp_state_dir") is None and e.get("NEUTRINO_AGENT_DHCP_STATE_DIR"):
            given["dhcp_state_dir"] = Path(e["NEUTRINO_AGENT_DHCP_STATE_DIR"])
        mappings = given.pop("interface_mappings", None)
        if isinstance(mappings, str) or mappings is None:
            mappings = parse_mappings(mappings or e.get("NEUTRINO_AGENT_INTERFACE_MAPPINGS", ""))
        local = given.get("local_external")
        if local:
            physnet, sep, cidr = local.partition(":")
            if not physnet or not sep or "/" not in cidr:
                raise ValueError(f"bad --local-external {local!r} (want PHYSNET:IP/PREFIX)")
            from neutrino.agent.dataplane.uplink import uplink_names

            mappings = {**mappings, physnet: uplink_names(physnet)[1]}
        return cls(
            credentials=Credentials.from_env(e),
            host=host,
            tunnel_ip=tunnel_ip,
            interface_mappings=mappings,
            state_dir=state_root(e),
            **given,
        )

    def agent_config(self, vlan: bool = False) -> AgentConfig:
        return AgentConfig(
            local_ip=self.tunnel_ip,
            underlay_dev=self.underlay_dev,
            underlay_mtu=self.underlay_mtu,
            physical_interfaces=dict(self.interface_mappings),
            vlan=vlan,
        )

    def configurations(self, vlan_unavailable: str = "not probed") -> dict[str, Any]:
        """What the agent registers with (binding reads the tunnel IP, mappings and segment
        types). ``vlan_unavailable``: why the kernel cannot tag (``dataplane.vlan_probe``),
        shown on every VLAN port and sub-port not bound here; "" serves both."""
        vlan = not vlan_unavailable
        config: dict[str, Any] = {
            "tunnel_ip": self.tunnel_ip,
            "tunnel_types": ["vxlan"],
            "interface_mappings": dict(self.interface_mappings),
            "segment_types": ["flat", "vlan", "vxlan"] if vlan else ["flat", "vxlan"],
            "trunk_segmentation_types": ["vlan"] if vlan else [],
            "l2_population": True,
            "netns": self.netns,
        }
        if not vlan:
            config["vlan_unavailable"] = vlan_unavailable
        return config

    def dhcp_configurations(self) -> dict[str, Any]:
        return {
            "dhcp_driver": "dnsmasq",
            "netns": self.netns,
            "namespace_suffix": self.dhcp_namespace_suffix(),
        }

    def dhcp_namespace_suffix(self) -> str:
        return f"-{self.netns}" if self.netns else ""

    def dhcp_dir(self) -> Path:
        return self.dhcp_state_dir or self.state_dir / "dhcp" / self.host


def netlink_kernel(netns: str | None) -> L2Kernel:
    from neutrino.agent.dataplane.netlink import NetlinkKernel  # needs pyroute2 and root

    return NetlinkKernel(netns)


def link_watcher(netns: str | None, on_change: Callable[[], None]) -> LinkWatcher:
    from neutrino.agent.linkwatch import LinkWatcher  # needs pyroute2

    return LinkWatcher(netns, on_change)


def vlan_reason(settings: AgentSettings, real_kernel: bool) -> str:
    """Why this host serves no VLAN segments and trunk sub-ports ("" when it does): the
    wiring uses 8021q sub-interfaces, a VLAN-filtering bridge alone is not enough."""
    if not real_kernel:
        return "not probed (no real kernel)"
    from neutrino.agent.dataplane.vlan_probe import probe  # needs pyroute2 and root

    found = probe(settings.netns)
    if found.sub_interfaces:
        return ""
    if found.vlan_filtering:
        return "the kernel lacks 8021q (type vlan), which this agent wires VLANs with"
    return found.reason


def build_roles(
    settings: AgentSettings, kernel: L2Kernel, controller: Controller, *, real_kernel: bool
) -> list[Role]:
    """The roles ``settings`` ask for, in the loop's order (``agent.roles``). The DHCP and L3
    roles' namespaces take the suffix ``-<netns>`` (several lab hosts on one machine)."""
    no_vlan = vlan_reason(settings, real_kernel)
    config, suffix = settings.agent_config(vlan=not no_vlan), settings.dhcp_namespace_suffix()
    l2_conf = settings.configurations(no_vlan)
    if settings.qos and real_kernel:
        l2_conf.update(qos_calc.configurations())  # the rule types the QoS role enforces
    roles: list[Role] = [L2Role(L2Manager(kernel), config, l2_conf)]
    if settings.dhcp:
        from neutrino.agent.dataplane.dhcp import DhcpManager  # needs pyroute2 and root

        traversable(settings.dhcp_dir(), settings.state_dir)
        dhcp = DhcpManager(settings.dhcp_dir(), netns=settings.netns)
        dhcp_conf = settings.dhcp_configurations()
        roles.append(DhcpRole(dhcp, config, namespace_suffix=suffix, configurations=dhcp_conf))
    if settings.l3:
        from neutrino.agent.dataplane.keepalived import KeepalivedManager
        from neutrino.agent.dataplane.l3 import L3Manager  # needs pyroute2 and root

        keepalived = KeepalivedManager(settings.state_dir / "ha" / settings.host)
        l3 = L3Manager(netns=settings.netns, namespace_suffix=suffix, keepalived=keepalived)
        ha = HaReporter(l3, controller, settings.host)
        router = L3Role(l3, config, namespace_suffix=suffix, reporter=controller, ha=ha)
        router.configurations.update(netns=settings.netns, namespace_suffix=suffix)
        roles.append(router)
    if settings.security_groups and real_kernel:
        from neutrino.agent.dataplane.nft import NftManager  # needs pyroute2, nft and root

        roles.append(SecurityRole(NftManager(netns=settings.netns)))
    if settings.qos and real_kernel:
        from neutrino.agent.dataplane.dscp import DscpManager
        from neutrino.agent.dataplane.qos import QosManager  # runs tc and ip as root
        from neutrino.agent.dataplane.qos_fip import RouterQosManager

        routers = RouterQosManager() if settings.l3 else None
        marks = DscpManager(netns=settings.netns)
        roles.append(QosRole(QosManager(netns=settings.netns), routers, suffix, marks))
    return roles


class Agent:
    """A running agent: watcher and loop threads over one session and one kernel."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        controller: Controller | None = None,
        kernel: L2Kernel | None = None,
    ) -> None:
        self.settings = settings
        self._session = None if controller else Session(settings.credentials)
        self.controller = controller or Controller(self._session)  # type: ignore[arg-type]
        self.kernel = kernel if kernel is not None else netlink_kernel(settings.netns)
        self._real_kernel = kernel is None
        if settings.local_external and self._real_kernel:
            from neutrino.agent.dataplane.uplink import ensure_uplink

            physnet, _, cidr = settings.local_external.partition(":")
            ensure_uplink(physnet, cidr, settings.netns)
        self.watcher = Watcher(self.controller, settings.host, poll_timeout=settings.poll_timeout)
        self.roles = build_roles(
            settings, self.kernel, self.controller, real_kernel=self._real_kernel
        )
        self.loop = AgentLoop(
            settings.host,
            self.controller,
            lambda: self.watcher.state,
            self.roles,
            resync_interval=settings.resync_interval,
            heartbeat_interval=settings.heartbeat_interval,
            metrics=AgentMetrics() if settings.metrics_listen else None,
        )
        for role in self.roles:
            if isinstance(role, SecurityRole) and self.loop.metrics is not None:
                role.on_applied = self.loop.metrics.nft_seconds.observe
        self.watcher.on_change = self.loop.mark_dirty
        if self._real_kernel:  # a full walk of the kernel done: one of the heap too
            self.loop.settle = lambda: log.debug("heap settled in %.3fs", heap.settle())
        self.checks: CheckAnswerer | None = None
        if settings.drift_report and self._real_kernel:
            l2 = self.roles[0].configurations  # the L2 agent's status carries the report
            report = DriftReport(settings, l2, self.loop.metrics)
            self.loop.before_resync = lambda: report.observe(self.watcher.state)
            self.checks = CheckAnswerer(
                settings,
                self.controller,
                lambda: self.watcher.state,
                poll_timeout=settings.poll_timeout,
            )
        self.link_watcher = (
            link_watcher(settings.netns, self.loop.mark_dirty)
            if settings.watch_links and kernel is None
            else None
        )
        for role in self.roles:  # L2 looks up what the watcher saw come and go, no dump
            if isinstance(role, L2Role) and self.link_watcher is not None:
                role.link_events = self.link_watcher.events
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        name = self.settings.host
        if self.loop.metrics is not None and self.settings.metrics_listen:
            port = self.loop.metrics.serve(self.settings.metrics_listen)
            log.info("metrics on %s (port %d)", self.settings.metrics_listen, port)
        runs = {
            f"watcher-{name}": lambda: self.watcher.run(self._stop),
            f"loop-{name}": self.loop.run,
        }
        if self.link_watcher is not None:
            watch = self.link_watcher.run
            runs[f"links-{name}"] = lambda: watch(self._stop)
        if self.checks is not None:
            answer = self.checks.run
            runs[f"checks-{name}"] = lambda: answer(self._stop)
        ha = next((r.ha for r in self.roles if isinstance(r, L3Role) and r.ha), None)
        if ha is not None:
            runs[f"ha-{name}"] = lambda: self._poll_ha(ha)
        self._threads = [
            threading.Thread(target=self._guard, args=(run,), name=n, daemon=True)
            for n, run in runs.items()
        ]
        for thread in self._threads:
            thread.start()

    def _poll_ha(self, ha: HaReporter) -> None:
        """Report HA routers' VRRP changes as they happen; a dead keepalived wakes the loop
        for a full round (which drops what it left and starts another: the host state did not
        change, so a round between resyncs would skip the routers)."""
        while not self._stop.wait(POLL_INTERVAL):
            if ha.poll():
                self.loop.mark_full()

    def _guard(self, target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            log.exception("agent thread %s died", threading.current_thread().name)
            self.error = self.error or exc
        finally:
            self.stop(join=False)

    def stop(self, join: bool = True) -> None:
        """Stop both threads; with ``join``, wait for the loop (and up to 1 s for the watcher,
        which ends its long-poll later by itself)."""
        self._stop.set()
        self.loop.stop()
        if join:
            for thread in self._threads:
                if thread is not threading.current_thread():
                    # the loop may be mid-apply: wait for it; the watcher (a daemon that only
                    # reads) may sit in a long-poll: do not hold the exit for it
                    watcher = thread.name.startswith(("watcher-", "links-", "checks-", "ha-"))
                    thread.join(1.0 if watcher else self.settings.poll_timeout + 5)

    def close(self) -> None:
        self.stop()
        if self.loop.metrics is not None:
            self.loop.metrics.close()
        if self.settings.cleanup_on_exit and self._real_kernel:
            self.teardown()
        elif self._real_kernel:
            log.info(
                "stopped; the data plane stays up for the VMs (`neutrino agent cleanup` removes it)"
            )
        for owner in (self.kernel, *(getattr(role, "manager", None) for role in self.roles)):
            close = getattr(owner, "close", None)  # netlink and nft sockets
            if close is not None:
                close()
        if self._session is not None:
            self._session.close()

    def teardown(self) -> list[str]:
        """Remove what this agent built (``agent.teardown``), with its own managers."""
        from neutrino.agent.teardown import teardown

        dhcp = next((r.manager for r in self.roles if isinstance(r, DhcpRole)), None)
        l3 = next((r.manager for r in self.roles if isinstance(r, L3Role)), None)
        nft = next((r.manager for r in self.roles if isinstance(r, SecurityRole)), None)
        removed = teardown(self.settings, self.kernel, dhcp=dhcp, l3=l3, nft=nft)
        log.info("cleanup: removed %s", ", ".join(removed) or "nothing")
        return removed

    def run(self) -> None:
        """Run until stopped (or a thread dies: its exception is re-raised here)."""
        self.start()
        self._stop.wait()
        self.stop()
        if self.error is not None:
            raise self.error
