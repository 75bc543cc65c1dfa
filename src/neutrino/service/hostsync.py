"""Host sync: store -> ``HostState`` per host, the long-poll watch over it, port status reports.

``compute`` reads one host's desired state in one read transaction at change-log revision R.
``watch(host, since=R)`` answers a full snapshot at once when the caller has nothing (no
``since``) or a ``since`` this process did not serve (restart, another replica, a gap);
otherwise it blocks (bounded, <= ``MAX_TIMEOUT``) until a change *concerning the host* commits
and then returns the new full state (``snapshot: true``), or returns ``state: null`` with an
advanced revision on timeout.

Incremental: a change concerns a host when its ``network_id`` is one of the networks the host
had at R or has now, when an agent changed (tunnel endpoints) or a security group or rule
changed (treated as global), or when any port changed and a port of the host is in a group
with a remote-group rule (membership may have moved), or when a router or floating IP changed
and the host runs an L3 agent (``l3_hoststate.concerns_l3``). Only then is the state
recomputed, and it is returned only if its content digest differs from the one served at R,
so a change to network A never wakes hosts without A, and a no-op never wakes anyone.

Served (host, revision) -> (networks, digest) pairs are remembered in a bounded LRU, per
process: several agents on one host (L2 + DHCP) each keep their own cursor.

Blocking: ``watch`` and ``wait_port`` block the calling thread (``Store.wait_for_change``); the
API runs them in worker threads, never on the event loop.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import BadRequest, NamedConflict, ResourceNotFound
from neutrino.domain import statedelta
from neutrino.domain.hoststate import (
    VIF_BRIDGE,
    DhcpEntry,
    DhcpNetwork,
    DhcpOpt,
    FixedIp,
    HostRoute,
    HostState,
    L2Pop,
    NetworkState,
    PortState,
    RemotePort,
    SubnetState,
)
from neutrino.domain.sgstate import AddressPair, RemoteGroup, RuleState, SecurityGroupState
from neutrino.service import l3_hoststate
from neutrino.service.agents import require_agent_role
from neutrino.service.binding import parse_configurations, tunnel_ip_of
from neutrino.service.changes import Interest
from neutrino.service.context import RequestContext
from neutrino.service.ports import PortService
from neutrino.store import changelog, locks
from neutrino.store import hostsync as repo
from neutrino.store.changes import Resource, kinds
from neutrino.store.uow import Store, Tx

MAX_TIMEOUT = 60.0
SERVED_CACHE = 4096
BODY_CACHE = 2048
BODIES_PER_HOST = 2
PORT_STATUSES = ("ACTIVE", "DOWN")
# changes that may concern any host: tunnel endpoints, security-group definitions
GLOBAL_TYPES = frozenset({"agent", "security_group", "security_group_rule"})
# The rest concern the hosts of the network they name, or L3 hosts (routers, floating IPs);
# policies change who sees a network (its own update is logged), quotas and templates nothing.
INTEREST = Interest(
    "host state",
    invalidating=kinds(
        Resource.AGENT,
        Resource.SECURITY_GROUP,
        Resource.SECURITY_GROUP_RULE,
        Resource.NETWORK,
        Resource.SUBNET,
        Resource.PORT,
        Resource.ROUTER,
        Resource.FLOATINGIP,
    ),
    ignored=kinds(Resource.RBAC_POLICY, Resource.QUOTA, Resource.DEFAULT_SECURITY_GROUP_RULE),
)


@dataclass(frozen=True)
class WatchResult:
    host: str
    revision: int
    state: HostState | None  # None: nothing concerning the host changed before the timeout
    delta: dict[str, Any] | None = None  # set: send this instead of the state (statedelta)
    body: dict[str, Any] | None = None  # ``state.to_dict()`` when already made

    def to_dict(self) -> dict[str, Any]:
        if self.delta is not None:
            assert self.state is not None
            return {
                "host": self.host,
                "revision": self.revision,
                "snapshot": False,
                "state": None,
                "delta": self.delta,
                "digest": self.state.digest(),
            }
        body = self.body
        if body is None and self.state is not None:
            body = self.state.to_dict()
        return {
            "host": self.host,
            "revision": self.revision,
            "snapshot": self.state is not None,
            "state": body,
        }


def concerns(changes: Iterable[tuple[str, str | None]], network_ids: frozenset[str]) -> bool:
    """Whether any (resource_type, network_id) change may alter a host on these networks."""
    return any(
        rtype in GLOBAL_TYPES or (net is not None and net in network_ids) for rtype, net in changes
    )


def concerns_host(
    conn: Any, host: str, changes: list[tuple[str, str | None]], networks: frozenset[str]
) -> bool:
    """Whether ``changes`` may alter ``host``'s state (see the module docstring); ``networks``
    are the host's networks when it was last served. Cheapest checks first."""
    current = frozenset(repo.host_network_ids(conn, host))
    if concerns(changes, networks | current):
        return True
    if any(rtype == "port" for rtype, _ in changes) and repo.host_uses_remote_groups(conn, host):
        return True  # a remote group's membership may have moved
    return l3_hoststate.concerns_l3(conn, host, changes)


def compute(conn: Any, host: str, revision: int) -> HostState:
    """The desired state of ``host`` as the database says now, labelled ``revision``."""
    port_rows = repo.bound_ports(conn, host)
    net_ids = sorted({p[1] for p in port_rows})
    sub_rows = repo.subnets(conn, net_ids)
    dns, routes = repo.dns_and_routes(conn, [s[0] for s in sub_rows])
    remote_rows = repo.remote_ports(conn, net_ids, host)
    ips = repo.fixed_ips(conn, [p[0] for p in port_rows] + [r[0] for r in remote_rows])
    configs = repo.l2_configurations(conn, {host} | {r[3] for r in remote_rows})
    tunnels = {h: tunnel_ip_of(parse_configurations(cfg)) for h, cfg in configs.items()}

    subnets_of: dict[str, list[SubnetState]] = {}
    for sid, net_id, cidr, version, gateway, dhcp, ra_mode, addr_mode in sub_rows:
        subnets_of.setdefault(net_id, []).append(
            SubnetState(
                id=sid,
                cidr=cidr,
                ip_version=version,
                gateway_ip=gateway,
                enable_dhcp=bool(dhcp),
                dns_nameservers=tuple(dns.get(sid, ())),
                host_routes=tuple(HostRoute(d, n) for d, n in routes.get(sid, ())),
                ipv6_ra_mode=ra_mode,
                ipv6_address_mode=addr_mode,
            )
        )
    networks = tuple(
        NetworkState(
            id=nid,
            network_type=ntype or "local",
            segmentation_id=seg,
            physical_network=physnet,
            mtu=mtu,
            subnets=tuple(subnets_of.get(nid, ())),
        )
        for nid, ntype, seg, physnet, mtu in repo.networks(conn, net_ids)
    )
    groups_of = repo.port_groups(conn, [p[0] for p in port_rows])
    pairs_of = repo.address_pairs(conn, [p[0] for p in port_rows])
    ports = tuple(
        PortState(
            id=pid,
            network_id=nid,
            mac_address=mac,
            fixed_ips=tuple(FixedIp(s, a) for s, a in ips.get(pid, ())),
            admin_state_up=bool(up),
            device_owner=owner,
            port_security_enabled=bool(secure),
            system_owned=bool(system),
            security_groups=tuple(groups_of.get(pid, ())),
            allowed_address_pairs=tuple(
                AddressPair(ip, pair_mac or mac) for ip, pair_mac in pairs_of.get(pid, ())
            ),
        )
        for pid, nid, mac, up, owner, secure, system in port_rows
    )
    tunnelled = {n.id for n in networks if n.network_type == "vxlan"}
    remotes: dict[str, list[RemotePort]] = {}
    for pid, nid, mac, other in remote_rows:
        vtep = tunnels.get(other)
        if nid in tunnelled and vtep:
            remotes.setdefault(nid, []).append(
                RemotePort(
                    id=pid,
                    mac_address=mac,
                    ip_addresses=tuple(a for _, a in ips.get(pid, ())),
                    vtep=vtep,
                )
            )
    l2pop = tuple(
        L2Pop(
            network_id=nid,
            vteps=tuple(sorted({p.vtep for p in remotes[nid]})),
            ports=tuple(remotes[nid]),
        )
        for nid in sorted(remotes)
    )
    groups, remote_groups = security(conn, ports)
    return HostState(
        host=host,
        revision=revision,
        tunnel_ip=tunnels.get(host),
        networks=networks,
        ports=ports,
        l2pop=l2pop,
        dhcp=dhcp_networks(conn, ports),
        security_groups=groups,
        remote_groups=remote_groups,
        routers=l3_hoststate.hosted_routers(conn, host),
    )


def security(
    conn: Any, ports: tuple[PortState, ...]
) -> tuple[tuple[SecurityGroupState, ...], tuple[RemoteGroup, ...]]:
    """The definitions of the groups the host's ports use, and the member addresses of the
    groups their rules name as remote (three or four queries, whatever the host's size)."""
    ids = sorted({g for p in ports for g in p.security_groups})
    rules: dict[str, list[RuleState]] = {}
    for (
        gid,
        rid,
        direction,
        ethertype,
        proto,
        pmin,
        pmax,
        prefix,
        remote,
    ) in repo.security_group_rules(conn, ids):
        rules.setdefault(gid, []).append(
            RuleState(
                id=rid,
                direction=direction,
                ethertype=ethertype,
                protocol=proto,
                port_range_min=pmin,
                port_range_max=pmax,
                remote_ip_prefix=prefix,
                remote_group_id=remote,
            )
        )
    groups = tuple(
        SecurityGroupState(id=gid, stateful=bool(stateful), rules=tuple(rules.get(gid, ())))
        for gid, stateful in repo.security_groups(conn, ids)
    )
    remote_ids = sorted({r.remote_group_id for g in groups for r in g.rules if r.remote_group_id})
    members = repo.group_member_addresses(conn, remote_ids)
    return groups, tuple(
        RemoteGroup(gid, tuple(sorted(members.get(gid, ())))) for gid in remote_ids
    )


DHCP_OWNER = "network:dhcp"


def dhcp_networks(conn: Any, ports: tuple[PortState, ...]) -> tuple[DhcpNetwork, ...]:
    """The networks the host serves DHCP for (its bound ``network:dhcp`` ports), each with
    an entry (MAC, fixed IPs, extra DHCP options) for every other port on the network."""
    served = {p.network_id: p for p in ports if p.device_owner == DHCP_OWNER}
    if not served:
        return ()
    rows = [r for r in repo.network_ports(conn, sorted(served)) if r[3] != DHCP_OWNER]
    ids = [r[0] for r in rows]
    ips = repo.fixed_ips(conn, ids)
    opts = repo.dhcp_opts(conn, ids)
    entries: dict[str, list[DhcpEntry]] = {}
    for pid, nid, mac, _owner in rows:
        entries.setdefault(nid, []).append(
            DhcpEntry(
                port_id=pid,
                mac_address=mac,
                fixed_ips=tuple(FixedIp(s, a) for s, a in ips.get(pid, ())),
                extra_dhcp_opts=tuple(DhcpOpt(n, v, ver) for n, v, ver in opts.get(pid, ())),
            )
        )
    return tuple(
        DhcpNetwork(network_id=nid, port=served[nid], entries=tuple(entries.get(nid, ())))
        for nid in sorted(served)
    )


class HostSyncService:
    def __init__(self, store: Store, ports: PortService) -> None:
        self.store = store
        self.ports = ports
        self._served: OrderedDict[tuple[str, int], tuple[frozenset[str], str]] = OrderedDict()
        self._lock = threading.Lock()
        # wire forms served lately, for deltas (see ``_keep_body``)
        self._bodies: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._body_revisions: dict[str, list[int]] = {}

    # --- served-state memory

    def _remember(self, host: str, revision: int, networks: frozenset[str], digest: str) -> None:
        with self._lock:
            self._served[(host, revision)] = (networks, digest)
            self._served.move_to_end((host, revision))
            while len(self._served) > SERVED_CACHE:
                self._served.popitem(last=False)

    def _recall(self, host: str, revision: int) -> tuple[frozenset[str], str] | None:
        with self._lock:
            return self._served.get((host, revision))

    # --- host state

    def snapshot(self, ctx: RequestContext, host: str) -> HostState:
        require_agent_role(ctx, "get_host_state")
        with self.store.read() as conn:
            state = compute(conn, host, changelog.latest(conn))
        self._remember(host, state.revision, state.network_ids, state.digest())
        return state

    def watch(
        self,
        ctx: RequestContext,
        host: str,
        since: int | None,
        timeout: float,
        *,
        delta: bool = False,
    ) -> WatchResult:
        """Blocks up to ``timeout`` seconds (clamped to [0, 60]); see the module docstring.
        With ``delta``, a new state is sent as the difference from the one served at
        ``since`` when this process still holds that one (else as a snapshot)."""
        result = self._watch(ctx, host, since, timeout)
        before = None if since is None else self._body(host, since)
        if result.state is None:  # same content, relabelled
            if before is not None:
                self._keep_body(host, result.revision, before)
            return result
        body = result.state.to_dict()
        self._keep_body(host, result.revision, body)
        if delta and before is not None and result.revision != since:
            return WatchResult(host, result.revision, result.state, statedelta.diff(before, body))
        return WatchResult(host, result.revision, result.state, body=body)

    def _body(self, host: str, revision: int) -> dict[str, Any] | None:
        with self._lock:
            return self._bodies.get((host, revision))

    def _keep_body(self, host: str, revision: int, body: dict[str, Any]) -> None:
        """Remember what ``host`` was served at ``revision``: the last ``BODIES_PER_HOST``
        revisions of each host (a watcher asks with the latest; a second watcher of the host
        may still hold the one before), ``BODY_CACHE`` in all, least recently used out."""
        with self._lock:
            revisions = self._body_revisions.setdefault(host, [])
            if revision not in revisions:
                revisions.append(revision)
            while len(revisions) > BODIES_PER_HOST:
                self._bodies.pop((host, revisions.pop(0)), None)
            self._bodies[(host, revision)] = body
            self._bodies.move_to_end((host, revision))
            while len(self._bodies) > BODY_CACHE:
                (old_host, old_revision), _ = self._bodies.popitem(last=False)
                kept = self._body_revisions.get(old_host, [])
                if old_revision in kept:
                    kept.remove(old_revision)

    def _watch(
        self, ctx: RequestContext, host: str, since: int | None, timeout: float
    ) -> WatchResult:
        require_agent_role(ctx, "get_host_state")
        known = None if since is None else self._recall(host, since)
        if since is None or known is None:
            state = self.snapshot(ctx, host)
            return WatchResult(host, state.revision, state)
        networks, digest = known
        cursor = since
        deadline = time.monotonic() + clock.bounded_wait(timeout, MAX_TIMEOUT)
        while True:
            with self.store.read() as conn:
                upto = changelog.latest(conn)
                if upto > cursor:
                    changes = [
                        (c.resource_type, c.network_id)
                        for c in changelog.since(conn, cursor, upto)
                        if not INTEREST.ignores(c.resource_type, c.op)
                    ]
                    if concerns_host(conn, host, changes, networks):
                        state = compute(conn, host, upto)
                        if state.digest() != digest:
                            self._remember(host, upto, state.network_ids, state.digest())
                            return WatchResult(host, upto, state)
                    cursor = upto
                elif upto < cursor:  # a revision from another database: start over
                    state = compute(conn, host, upto)
                    self._remember(host, upto, state.network_ids, state.digest())
                    return WatchResult(host, upto, state)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.store.closing:  # closing: the server is stopping
                self._remember(host, cursor, networks, digest)
                return WatchResult(host, cursor, None)
            self.store.wait_for_change(cursor, remaining)

    # --- port status

    def report_status(
        self, ctx: RequestContext, port_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The agent on the port's host reports it wired (ACTIVE) or unwired (DOWN). A real
        change bumps the port's revision and is recorded, so watchers wake. The port is
        row-locked first (PostgreSQL): a concurrent update or liveness sweep is not lost."""
        require_agent_role(ctx, "update_port_status")
        status, host = body.get("status"), body.get("host")
        if status not in PORT_STATUSES:
            raise BadRequest(f"'status' must be one of {', '.join(PORT_STATUSES)}")
        if not isinstance(host, str) or not host:
            raise BadRequest("'host' must be a non-empty string")

        def tx_fn(tx: Tx) -> dict[str, Any]:
            locks.for_change(tx.conn, "ports", port_id)  # the revision is built on
            row = repo.port_binding(tx.conn, port_id)
            if row is None:
                raise ResourceNotFound("Port", port_id)
            _project, _network_id, bound_host, current, revision, vif_type = row
            if bound_host != host:
                raise NamedConflict(
                    "PortNotBoundToHost", f"Port {port_id} is not bound to host {host}."
                )
            if status == "ACTIVE" and vif_type != VIF_BRIDGE:
                raise NamedConflict(
                    "PortBindingFailed", f"Port {port_id} has no successful binding on {host}."
                )
            if current != status:
                revision = tx.updated(Resource.PORT, port_id, {"status": status})
            return {"id": port_id, "status": status, "revision_number": revision}

        return self.store.write(tx_fn)

    def wait_port(
        self, ctx: RequestContext, port_id: str, status: str, timeout: float
    ) -> dict[str, Any]:
        """The watchable "vif plugged" event: block until the port (visible to the caller)
        has ``status`` or ``timeout`` (clamped to [0, 60]) passes."""
        if status not in PORT_STATUSES:
            raise BadRequest(f"'status' must be one of {', '.join(PORT_STATUSES)}")
        deadline = time.monotonic() + clock.bounded_wait(timeout, MAX_TIMEOUT)
        while True:
            revision = self.store.current_revision()
            current = self.ports.get(ctx, port_id)["status"]
            remaining = deadline - time.monotonic()
            if current == status or remaining <= 0 or self.store.closing:
                return {
                    "port_id": port_id,
                    "status": current,
                    "revision": revision,
                    "plugged": current == "ACTIVE",
                    "timed_out": current != status,
                }
            self.store.wait_for_change(revision, remaining)
