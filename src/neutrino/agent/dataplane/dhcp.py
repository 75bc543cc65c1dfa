"""DHCP data plane: per served network a ``qdhcp-<net>`` namespace with dnsmasq in it.

``DhcpManager`` owns, for each network it is given: the namespace ``qdhcp-<net>``, the veth
pair ``tap<port[:11]>`` (in the hypervisor namespace, enslaved to ``brq<net[:11]>``) <->
``ns-<port[:11]>`` (in qdhcp, with the DHCP port's MAC, addresses and MTU), a state directory
``<state_dir>/<net>/`` (world-readable: dnsmasq drops root) holding ``hosts``, ``addn_hosts``,
``opts``, ``leases``, ``pid``, ``device``, ``namespace`` and ``args`` (the command line it
was started with), and one dnsmasq process (``--keep-in-foreground``, bound only to
``ns-…``: never the host's interfaces; DNS on port 53 only inside the namespace).
``state_dir`` and its parents must be traversable by dnsmasq's unprivileged user (a 0700
temp dir makes it serve nothing).

``apply(desired)`` converges to ``desired`` (network id -> ``DhcpConfig`` from
``agent.dhcp_calc``): ``ensure_network`` for each (idempotent: nothing is recreated when it
matches; a changed command line restarts dnsmasq; changed host/option files are rewritten and
dnsmasq gets SIGHUP; a dead dnsmasq is restarted), ``teardown`` for every network with a state
directory that is no longer desired. A dnsmasq started by an earlier agent process is adopted
through its pid file, so an agent restart never interrupts DHCP.

Retries: none inside. Each network is applied independently; a network that fails is listed
in ``DhcpReport.failed`` with its error (``retryable`` when the bridge is not there yet — the
L2 manager creates it — or the kernel said ``Busy``) and the caller's loop retries it with
backoff; one bad network never blocks the others.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pyroute2 import netns as pr_netns

from neutrino.agent.dataplane.base import KeyedReport, LinkNotFound
from neutrino.agent.dataplane.daemon import live_pid, read, spawn, terminate, wait_started
from neutrino.agent.dataplane.netns import add_veth, call, route, sync_addresses
from neutrino.agent.dhcp_calc import DhcpConfig

__all__ = ["BridgeMissing", "DhcpManager", "DhcpReport"]


class BridgeMissing(LinkNotFound):
    """The network's bridge does not exist yet (the L2 manager makes it): retry later."""

    retryable = True


class DhcpReport(KeyedReport):
    """Networks applied, removed and failed."""


class DhcpManager:
    """Applies desired ``DhcpConfig``s (see the module docstring)."""

    def __init__(self, state_dir: Path, netns: str | None = None, dnsmasq: str = "dnsmasq") -> None:
        self.state_dir = Path(state_dir)
        self.netns = netns  # the hypervisor namespace holding the bridges (None = current)
        self.dnsmasq = dnsmasq
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    # --- the API the agent loop calls

    def apply(self, desired: Mapping[str, DhcpConfig]) -> DhcpReport:
        report = DhcpReport()
        ensure = lambda n: self.ensure_network(desired[n])  # noqa: E731
        report.converge(desired, self.owned(), ensure, self.teardown)
        return report

    def owned(self) -> set[str]:
        """Networks with a state directory (what this manager built and not yet removed)."""
        if not self.state_dir.is_dir():
            return set()
        return {p.name for p in self.state_dir.iterdir() if p.is_dir()}

    # --- one network

    def ensure_network(self, cfg: DhcpConfig) -> None:
        """Build or repair everything for ``cfg``; idempotent."""
        directory = self._dir(cfg.network_id)
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        self.state_dir.chmod(0o755)
        self._ensure_namespace(cfg.namespace)
        self._ensure_link(cfg)
        self._ensure_addresses(cfg)
        files_changed = self._write_files(cfg, directory)
        args = self._argv(cfg, directory)
        pid = self.running_pid(cfg.network_id)
        started_with = read(directory / "args")
        if pid is None or started_with != "\n".join(args):
            if pid is not None:
                terminate(pid, self._children.pop(cfg.network_id, None))
            self._start(cfg, args)
        elif files_changed:
            os.kill(pid, signal.SIGHUP)

    def teardown(self, network_id: str) -> None:
        """Stop dnsmasq, delete the tap (its peer goes with it), the namespace and the
        state directory. Safe to call for anything partly built or already gone."""
        pid = self.running_pid(network_id)
        if pid is not None:
            terminate(pid, self._children.pop(network_id, None))
        port_dev = read(self._dir(network_id) / "device")
        if port_dev:
            with route(self.netns) as ipr:
                idx = ipr.link_lookup(ifname=port_dev)
                if idx:
                    call(ipr, f"delete {port_dev}", "link", "del", index=idx[0])
        namespace = read(self._dir(network_id) / "namespace") or f"qdhcp-{network_id}"
        if namespace in pr_netns.listnetns():
            pr_netns.remove(namespace)
        shutil.rmtree(self._dir(network_id), ignore_errors=True)

    # --- kernel objects

    @staticmethod
    def _ensure_namespace(name: str) -> None:
        if name not in pr_netns.listnetns():
            pr_netns.create(name)
        with route(name) as ipr:
            lo = ipr.link_lookup(ifname="lo")
            call(ipr, "lo up", "link", "set", index=lo[0], state="up")

    def _ensure_link(self, cfg: DhcpConfig) -> None:
        (self._dir(cfg.network_id) / "device").write_text(cfg.host_device)
        (self._dir(cfg.network_id) / "namespace").write_text(cfg.namespace)
        with route(self.netns) as ipr:
            bridge = ipr.link_lookup(ifname=cfg.bridge)
            if not bridge:
                raise BridgeMissing(f"bridge {cfg.bridge} does not exist yet")
            if not ipr.link_lookup(ifname=cfg.host_device):
                with route(cfg.namespace) as inner:
                    stale = inner.link_lookup(ifname=cfg.interface)
                    if stale:  # a peer whose tap was deleted by hand: start over
                        call(inner, f"delete {cfg.interface}", "link", "del", index=stale[0])
                peer = (cfg.interface, cfg.namespace, cfg.mac_address, cfg.mtu)
                add_veth(ipr, cfg.host_device, *peer)
            idx = ipr.link_lookup(ifname=cfg.host_device)[0]
            call(
                ipr,
                f"set {cfg.host_device}",
                "link",
                "set",
                index=idx,
                mtu=cfg.mtu,
                master=bridge[0],
                state="up",
            )
        with route(cfg.namespace) as inner:
            found = inner.link_lookup(ifname=cfg.interface)
            if not found:
                raise LinkNotFound(f"{cfg.interface} missing in {cfg.namespace}")
            call(
                inner,
                f"set {cfg.interface}",
                "link",
                "set",
                index=found[0],
                address=cfg.mac_address,
                mtu=cfg.mtu,
                state="up",
            )

    @staticmethod
    def _ensure_addresses(cfg: DhcpConfig) -> None:
        with route(cfg.namespace) as ipr:
            sync_addresses(ipr, ipr.link_lookup(ifname=cfg.interface)[0], cfg.addresses)

    # --- dnsmasq

    def command(self, cfg: DhcpConfig) -> list[str]:
        """The dnsmasq command line ``cfg`` is served with."""
        return self._argv(cfg, self._dir(cfg.network_id))

    def _dir(self, network_id: str) -> Path:
        return self.state_dir / network_id

    @staticmethod
    def _write_files(cfg: DhcpConfig, directory: Path) -> bool:
        """Write hosts/addn_hosts/opts when they differ; True if any changed."""
        changed = False
        for name, lines in (
            ("hosts", cfg.hosts),
            ("addn_hosts", cfg.addn_hosts),
            ("opts", cfg.opts),
        ):
            text = "".join(f"{line}\n" for line in lines)
            path = directory / name
            if read(path) != text:
                tmp = path.with_suffix(".tmp")
                tmp.write_text(text)
                tmp.chmod(0o644)
                tmp.replace(path)
                changed = True
        leases = directory / "leases"
        if not leases.exists():
            leases.touch(mode=0o644)
        return changed

    def _argv(self, cfg: DhcpConfig, directory: Path) -> list[str]:
        return [
            self.dnsmasq,
            "--no-hosts",
            "--no-resolv",
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            f"--pid-file={directory / 'pid'}",
            f"--dhcp-hostsfile={directory / 'hosts'}",
            f"--addn-hosts={directory / 'addn_hosts'}",
            f"--dhcp-optsfile={directory / 'opts'}",
            f"--dhcp-leasefile={directory / 'leases'}",
            f"--log-facility={directory / 'log'}",
            *([f"--domain={cfg.domain}"] if cfg.domain else []),
            f"--interface={cfg.interface}",
            "--except-interface=lo",
            "--bind-interfaces",
            "--dhcp-lease-max=16777216",
            *cfg.args,
        ]

    def _start(self, cfg: DhcpConfig, args: list[str]) -> None:
        directory = self._dir(cfg.network_id)
        (directory / "pid").unlink(missing_ok=True)
        proc = spawn(cfg.namespace, args, subprocess.DEVNULL, subprocess.PIPE)
        self._children[cfg.network_id] = proc
        started = lambda: bool(read(directory / "pid"))  # noqa: E731
        wait_started(proc, started, f"dnsmasq for {cfg.network_id}")
        (directory / "args").write_text("\n".join(args))

    def running_pid(self, network_id: str) -> int | None:
        """The pid of this network's live dnsmasq (ours, or adopted via its pid file)."""
        pid_file = self._dir(network_id) / "pid"
        return live_pid(pid_file, str(pid_file), self._children, network_id)
