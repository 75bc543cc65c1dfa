"""DHCP scheduling: which hosts serve DHCP for a network, through real ``network:dhcp`` ports.

A network *needs DHCP* when one of its subnets has ``enable_dhcp``. It is then served by up to
``agents_per_network`` live DHCP agents; each serving host holds one Neutron port with
``device_owner = network:dhcp``, ``device_id = dhcp<uuid5(host)>-<network>`` (Neutron's
form), ``binding:host_id`` = that host and a fixed IP on every DHCP-enabled subnet. The agent
on that host learns about it from its host state (``HostState.dhcp``) and builds the
``qdhcp-<net>`` namespace and dnsmasq from it.

Invariants (after ``sync_network`` in a transaction):
- a network without DHCP-enabled subnets has no DHCP ports;
- every DHCP port has exactly one address on each DHCP-enabled subnet (and keeps automatic
  EUI-64 addresses, which IPAM manages) and none on non-DHCP, non-automatic subnets;
- a DHCP port takes the lowest free address of each subnet (no random window: the server's
  address is predictable, and clients that pick addresses by hand avoid the pool's start);
- the hosts serving a network are its bindings (``dhcp_bindings``), and each holds exactly
  one DHCP port on it; the scheduler binds a network to up to ``agents_per_network`` hosts
  whose DHCP agent is up and alive, least-loaded host first, when the network needs DHCP;
  a network with ``availability_zone_hints`` only to agents in those zones.
  An admin may bind more, or unbind one (extension ``dhcp_agent_scheduler``: ``add`` and
  ``remove``). Bindings to a dead agent move only through ``reschedule`` (the liveness
  sweep), and only to a live host that does not serve the network yet.

Locks (PostgreSQL, ``store.locks``): ``sync_network`` locks the network row first (subnet
writes hold it already), so two DHCP agents registering at once, or a sync racing with port
creates and deletes on the network, see each other's DHCP ports: never more than
``agents_per_network``.

No retries here: everything runs inside the caller's transaction (``Store.write`` retries the
whole transaction on conflicts), so the DHCP ports change in the same commit as the subnet or
agent change that made them needed. Address exhaustion is not the caller's failure: a host
that gets no address is skipped (Neutron's DHCP agent would equally fail to create its port).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import NamedConflict
from neutrino.common.settings import Settings
from neutrino.service import binding, ipam, system_ports
from neutrino.store import agents as agent_repo
from neutrino.store import dhcp as repo
from neutrino.store import locks
from neutrino.store import ports as port_repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx

DHCP_OWNER = repo.DHCP_OWNER


def device_id(host: str, network_id: str) -> str:
    """Neutron's DHCP port device_id: ``dhcp<uuid5(DNS, short host name)>-<network id>``."""
    host_uuid = uuid.uuid5(uuid.NAMESPACE_DNS, host.split(".")[0])
    return f"dhcp{host_uuid}-{network_id}"


@dataclass(frozen=True)
class DhcpScheduler:
    """Keeps DHCP ports in line with subnets and DHCP agents (see the module docstring)."""

    agents_per_network: int = 1
    base_mac: str = "fa:16:3e:00:00:00"

    @classmethod
    def from_settings(cls, settings: Settings) -> DhcpScheduler:
        return cls(agents_per_network=settings.dhcp_agents_per_network, base_mac=settings.base_mac)

    def live_hosts(self, tx: Tx) -> list[str]:
        now = clock.now()
        return [
            host
            for host, heartbeat, up in repo.dhcp_agents(tx.conn)
            if up and now - heartbeat < binding.AGENT_DOWN_TIME
        ]

    def sync_all(self, tx: Tx) -> None:
        """Schedule every network that needs DHCP (after a DHCP agent registered)."""
        for network_id in sorted(repo.networks_needing_dhcp(tx.conn)):  # the lock order
            self.sync_network(tx, network_id)

    def sync_network(self, tx: Tx, network_id: str) -> None:
        """Bind, create, readdress or delete the network's DHCP ports to meet the
        invariants."""
        conn = tx.conn
        locks.for_change(conn, "networks", network_id)  # held already by subnet writes
        wanted = repo.dhcp_subnets(conn, network_id)
        ports = repo.dhcp_ports(conn, network_id)
        if not wanted:
            for port in ports:
                self._delete_port(tx, network_id, port)
            return
        hosts = repo.bound_hosts(conn, network_id)
        missing = self.agents_per_network - len(hosts)
        if missing > 0:
            candidates = [h for h in self.live_hosts(tx) if h not in hosts]
            hints = repo.network_hints(conn, network_id)
            if hints:  # network_availability_zone: only agents of the hinted zones
                zones = agent_repo.agent_zones(conn, repo.DHCP_AGENT)
                candidates = [h for h in candidates if zones.get(h) in hints]
            load = repo.dhcp_load(conn, candidates)
            candidates.sort(key=lambda h: (load.get(h, 0), h))
            for host in candidates[:missing]:
                repo.bind(conn, network_id, host)
                hosts.append(host)
        for port in ports:  # a DHCP port someone made by hand is kept, and readdressed too
            self._readdress(tx, network_id, port, wanted)
        served = {p[1] for p in ports}
        project = repo.network_project(conn, network_id) or ""
        for host in hosts:
            if host not in served:
                self._create_port(tx, network_id, host, project, wanted)

    def reschedule(self, tx: Tx, network_id: str, dead_hosts: set[str]) -> bool:
        """Move the network off ``dead_hosts``, one per live host that does not serve it
        yet; True when something moved. Without a free live host nothing moves."""
        hosts = repo.bound_hosts(tx.conn, network_id)
        free = len([h for h in self.live_hosts(tx) if h not in hosts])
        stranded = [h for h in hosts if h in dead_hosts][:free]
        for host in stranded:
            repo.unbind(tx.conn, network_id, host)
        for port in repo.dhcp_ports(tx.conn, network_id):
            if port[1] in stranded:
                self._delete_port(tx, network_id, port)
        if stranded:
            self.sync_network(tx, network_id)
        return bool(stranded)

    def add(self, tx: Tx, network_id: str, host: str) -> bool:
        """An admin's choice: the host serves the network (beyond ``agents_per_network``
        if need be). False when it already did."""
        locks.for_change(tx.conn, "networks", network_id)
        if host in repo.bound_hosts(tx.conn, network_id):
            return False
        repo.bind(tx.conn, network_id, host)
        self.sync_network(tx, network_id)
        return True

    def remove(self, tx: Tx, network_id: str, host: str) -> bool:
        """An admin's choice: the host stops serving the network; its DHCP port goes. False
        when the host did not serve it."""
        locks.for_change(tx.conn, "networks", network_id)
        if not repo.unbind(tx.conn, network_id, host):
            return False
        for port in repo.dhcp_ports(tx.conn, network_id):
            if port[1] == host:
                self._delete_port(tx, network_id, port)
        return True

    # --- port writes

    def _create_port(
        self, tx: Tx, network_id: str, host: str, project: str, subnets: list[str]
    ) -> str | None:
        row = system_ports.insert(
            tx,
            network_id,
            self.base_mac,
            device_id=device_id(host, network_id),
            device_owner=DHCP_OWNER,
            project=project,
            host=host,
        )
        port_id: str = row["id"]
        try:
            ipam.allocate(
                tx,
                network_id,
                [{"subnet_id": s} for s in subnets],
                row["mac_address"],
                port_id=port_id,
                device_owner=DHCP_OWNER,
                window=1,
            )
        except NamedConflict as exc:
            if exc.type != "IpAddressGenerationFailure":
                raise
            ipam.release(tx, port_id)
            port_repo.delete_row(tx.conn, port_id)
            return None
        tx.created(Resource.PORT, row)
        return port_id

    def _readdress(self, tx: Tx, network_id: str, port: tuple[Any, ...], wanted: list[str]) -> None:
        port_id, _host, mac, _project, _revision = port
        current = [
            {"subnet_id": s, "ip_address": a}
            for s, a in port_repo.fixed_ips_of(tx.conn, [port_id]).get(port_id, [])
        ]
        auto = {s.id for s in ipam.load_subnets(tx.conn, network_id) if s.auto}
        have = {c["subnet_id"] for c in current}
        missing = [s for s in wanted if s not in have]
        extra = [c for c in current if c["subnet_id"] not in wanted and c["subnet_id"] not in auto]
        if not missing and not extra:
            return
        keep = [c for c in current if c not in extra]
        try:
            ipam.reallocate(
                tx,
                network_id,
                port_id,
                current,
                keep + [{"subnet_id": s} for s in missing],
                mac,
                device_owner=DHCP_OWNER,
                window=1,
            )
        except NamedConflict as exc:
            if exc.type != "IpAddressGenerationFailure":
                raise
            return
        tx.updated(Resource.PORT, port_id)

    @staticmethod
    def _delete_port(tx: Tx, network_id: str, port: tuple[Any, ...]) -> None:
        port_id = port[0]
        tx.deleted(Resource.PORT, port_id)
        ipam.release(tx, port_id)
        port_repo.delete_row(tx.conn, port_id)
        tag_repo.delete_all(tx.conn, port_id)
