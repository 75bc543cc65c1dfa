"""L3 scheduling: which host's L3 agent hosts a router, and binding the router's ports there.

A router *needs a host* while it has at least one port (an interface or a gateway). It is then
scheduled to one live L3 agent (registered, admin up, heartbeat within ``AGENT_DOWN_TIME``),
preferring hosts whose L2 agent can wire all its networks (the external network's physnet
mapped), least-loaded host first (ties by name), recorded in ``router_l3_bindings``; each of
its ports gets ``binding:host_id`` = that host and is bound by the ordinary L2 binding
(``service.binding.bind``), so the host's L2 agent wires its taps and l2population tells the
other hosts where the router's MACs live. The agent on that host learns about the router from
its host state (``HostState.routers``) and builds ``qrouter-<id>`` from it.

When:
- ``sync_router`` runs inside every transaction that adds or removes a router's port (router
  interface add/remove, gateway set/clear, router create with a gateway);
- ``sync_all`` runs when an L3 agent registers, restarts or changes its configuration;
- ``reschedule_stranded`` runs on every L3 agent heartbeat and when an admin changes an agent
  (``admin_state_up``): a router whose host's L3 agent is dead or disabled moves to a live
  agent. A router with no host at all (none was live when it got its ports, or an admin took
  it off its agent) and an HA router with fewer hosts than wanted are scheduled only on an
  admin's change of an agent and when an agent comes back from the dead, not on an ordinary
  heartbeat: a router an admin removed stays unhosted until a change of its ports, an agent's
  (re)start or another admin call schedules it, as Neutron's does.
- ``add_host``/``remove_host`` are an admin's choice (extension ``l3_agent_scheduler``): a
  legacy router moves to the given agent's host with its ports; an HA router gains (or loses)
  a host and its HA port. **Downtime** when a router's agent dies:
  up to ``AGENT_DOWN_TIME`` (75 s) until the agent counts as dead, plus up to one heartbeat
  interval of a surviving L3 agent (10 s by default) until the move is committed, plus the new
  agent's apply (tens of ms) — about 75-90 s. The dead host's namespace is not cleaned
  remotely; if that agent comes back it drops the router (no longer in its host state).

A router without ports is unscheduled (its binding row removed). With no live L3 agent a
router keeps its current host (possibly dead) and its ports stay as they are.

**HA routers** (``routers.ha``, ``service.l3_ha``) are scheduled to up to
``max_l3_agents_per_router`` live L3 agents (the same preference order), one binding row and
one HA port each; a host once added is kept, dead or alive (keepalived on the others takes
over in seconds, and a host that comes back rejoins as backup), and more are added as live
agents appear. The router's interface and gateway ports are bound to one of those hosts: the
one whose agent last reported itself ``active`` (VRRP master), else the one they are bound
to already, else the first; every hosting agent builds them all. ``reschedule_stranded``
leaves HA routers alone unless they have fewer hosts than wanted.

No retries here: everything runs inside the caller's transaction (``Store.write`` retries the
whole transaction on conflicts). ``sync_router`` row-locks the router (PostgreSQL,
``store.locks``) before it reads the router's ports and binding — router writes hold that lock
already; heartbeats of two L3 agents rescheduling the same stranded router run one after the
other (routers in id order), and the second finds it moved.
"""

from __future__ import annotations

from neutrino.common import clock
from neutrino.service import binding, l3_ha
from neutrino.service.l3_ha import HaConfig
from neutrino.store import agents as agent_repo
from neutrino.store import hostsync as host_repo
from neutrino.store import l3 as repo
from neutrino.store import locks
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx

L3_AGENT = repo.L3_AGENT


def live_hosts(tx: Tx) -> list[str]:
    now = clock.now()
    return [
        host
        for host, heartbeat, up in repo.l3_agents(tx.conn)
        if up and now - heartbeat < binding.AGENT_DOWN_TIME
    ]


DEFAULT_HA = HaConfig()


def sync_router(
    tx: Tx, router_id: str, live: list[str] | None = None, ha: HaConfig = DEFAULT_HA
) -> str | None:
    """Schedule (or unschedule) the router and bind its ports; returns the host they are
    bound to."""
    conn = tx.conn
    locks.for_change(conn, "routers", router_id)  # router writes hold it already
    ports = repo.router_ports(conn, router_id)
    mode = repo.router_ha(conn, router_id)
    if mode is not None and mode[0]:
        return _sync_ha(tx, router_id, ports, live, ha)
    hosts = repo.router_hosts(conn, router_id)
    if len(hosts) > 1 or repo.ha_ports(conn, router_id):  # was HA: back to one host
        l3_ha.sync_ha_ports(tx, router_id, [], ha)
        repo.set_router_host(conn, router_id, None)
        _record(tx, router_id)
        hosts = []
    current = hosts[0] if hosts else None
    if not ports:
        if current is not None:
            repo.set_router_host(conn, router_id, None)
            _record(tx, router_id)
        return None
    live = live_hosts(tx) if live is None else live
    host = current
    zoned = _in_zones(tx, router_id, live) if current not in live else []
    if zoned:
        candidates = _able(tx, zoned, {p[1] for p in ports}) or zoned
        load = repo.l3_load(conn, candidates)
        host = min(candidates, key=lambda h: (load.get(h, 0), h))
    if host is None:
        return None
    if host != current:
        repo.set_router_host(conn, router_id, host)
        _record(tx, router_id)
    bind_ports(tx, ports, host)
    return host


def bind_ports(tx: Tx, ports: list[tuple[object, ...]], host: str) -> None:
    """Bind the router's ports to ``host`` (those bound elsewhere)."""
    for port_id, network_id, bound_host, _project, _revision in ports:
        if bound_host == host:
            continue
        vif_type, details = binding.bind(tx, str(port_id), str(network_id), host)
        binds = {"binding_vif_type": vif_type, "binding_vif_details": details}
        tx.updated(Resource.PORT, str(port_id), {"binding_host_id": host, **binds})


def _record(tx: Tx, router_id: str) -> None:
    tx.updated(Resource.ROUTER_L3_AGENT, {"id": router_id, "project_id": ""})


def _sync_ha(
    tx: Tx,
    router_id: str,
    ports: list[tuple[object, ...]],
    live: list[str] | None,
    ha: HaConfig,
) -> str | None:
    conn = tx.conn
    hosts = repo.router_hosts(conn, router_id)
    if not ports:
        if hosts:
            l3_ha.sync_ha_ports(tx, router_id, [], ha)
            repo.set_router_host(conn, router_id, None)
            _record(tx, router_id)
        return None
    live = live_hosts(tx) if live is None else live
    wanted = max(ha.max_agents, 2)
    free = _in_zones(tx, router_id, [h for h in live if h not in hosts])
    if len(hosts) < wanted and free:
        candidates = _able(tx, free, {str(p[1]) for p in ports}) or free
        load = repo.l3_load(conn, candidates)
        for host in sorted(candidates, key=lambda h: (load.get(h, 0), h))[: wanted - len(hosts)]:
            repo.add_router_host(conn, router_id, host)
            hosts.append(host)
        _record(tx, router_id)
    if not hosts:
        return None
    l3_ha.sync_ha_ports(tx, router_id, hosts, ha)
    bound = {str(p[2]) for p in ports} & set(hosts)
    target = (
        l3_ha.active_host(tx, router_id)
        or next((h for h in hosts if h in bound), None)
        or next((h for h in hosts if h in live), hosts[0])
    )
    bind_ports(tx, ports, target)
    return target


def _in_zones(tx: Tx, router_id: str, hosts: list[str]) -> list[str]:
    """The hosts whose L3 agent is in one of the router's ``availability_zone_hints`` (all
    of them when it has none): the scheduler honours hints strictly, as Neutron's AZ-aware
    schedulers do."""
    hints = agent_repo.zone_list(repo.router_hints(tx.conn, router_id))
    if not hints:
        return hosts
    zones = agent_repo.agent_zones(tx.conn, L3_AGENT)
    return [h for h in hosts if zones.get(h) in hints]


def _able(tx: Tx, hosts: list[str], network_ids: set[str]) -> list[str]:
    """The hosts whose L2 agent can wire every one of these networks (an external flat
    network needs its physnet mapped there)."""
    configs = host_repo.l2_configurations(tx.conn, hosts)
    segments = [host_repo.network_segment(tx.conn, n) for n in sorted(network_ids)]
    return [
        h
        for h in hosts
        if h in configs
        and all(
            s is None or binding.can_serve(binding.parse_configurations(configs[h]), *s)
            for s in segments
        )
    ]


def sync_all(tx: Tx, ha: HaConfig = DEFAULT_HA) -> None:
    """Schedule every router with ports (an L3 agent registered or restarted)."""
    live = live_hosts(tx)
    for router_id, _hosts in repo.routers_with_ports(tx.conn):
        sync_router(tx, router_id, live, ha)


def reschedule_stranded(tx: Tx, ha: HaConfig = DEFAULT_HA, unhosted: bool = True) -> int:
    """Move legacy routers whose host has no live L3 agent to a live one; with ``unhosted``,
    also schedule routers that have no host and give HA routers with fewer hosts than wanted
    the live agents they lack. Returns how many routers changed. Cheap when nothing is
    stranded: a few reads."""
    live = live_hosts(tx)
    if not live:
        return 0
    moved = 0
    wanted = max(ha.max_agents, 2)
    ha_ids = repo.ha_router_ids(tx.conn)
    for router_id, hosts in repo.routers_with_ports(tx.conn):
        if router_id in ha_ids:
            if unhosted and len(hosts) < wanted and set(live) - set(hosts):
                sync_router(tx, router_id, live, ha)
                moved += 1
        elif (unhosted and not hosts) or (hosts and hosts[0] not in live):
            sync_router(tx, router_id, live, ha)
            moved += 1
    return moved


def add_host(tx: Tx, router_id: str, host: str, ha: HaConfig = DEFAULT_HA) -> str | None:
    """An admin's choice: ``host`` hosts the router. A legacy router already hosted elsewhere
    is refused: returns that host (the caller names its agent); None otherwise, also when
    ``host`` hosted it already. An HA router gains the host and its HA port (beyond
    ``max_l3_agents_per_router`` if need be); its ports stay with the master."""
    conn = tx.conn
    locks.for_change(conn, "routers", router_id)
    hosts = repo.router_hosts(conn, router_id)
    if host in hosts:
        return None
    mode = repo.router_ha(conn, router_id)
    ports = repo.router_ports(conn, router_id)
    if mode is not None and mode[0]:
        repo.add_router_host(conn, router_id, host)
        hosts.append(host)
        l3_ha.sync_ha_ports(tx, router_id, hosts, ha)
        bound = {str(p[2]) for p in ports} & set(hosts)
        if ports and not bound:
            bind_ports(tx, ports, l3_ha.active_host(tx, router_id) or host)
    elif hosts:
        return hosts[0]
    else:
        repo.set_router_host(conn, router_id, host)
        bind_ports(tx, ports, host)
    _record(tx, router_id)
    return None


def remove_host(tx: Tx, router_id: str, host: str, ha: HaConfig = DEFAULT_HA) -> None:
    """An admin's choice: ``host`` no longer hosts the router (nothing when it did not). A
    legacy router is left unhosted, its ports unbound (and DOWN: nothing forwards for them);
    an HA router loses the host's HA port, and its ports move to a host that still has it
    when they were bound there. The port changes are what wake the old host (the binding
    row's own change wakes nobody), which then drops the router."""
    conn = tx.conn
    locks.for_change(conn, "routers", router_id)
    hosts = repo.router_hosts(conn, router_id)
    if host not in hosts:
        return
    repo.remove_router_host(conn, router_id, host)
    hosts.remove(host)
    mode = repo.router_ha(conn, router_id)
    if mode is not None and mode[0]:
        l3_ha.sync_ha_ports(tx, router_id, hosts, ha)
        ports = repo.router_ports(conn, router_id)
        if hosts and any(str(p[2]) == host for p in ports):
            bind_ports(tx, ports, l3_ha.active_host(tx, router_id) or hosts[0])
    else:
        vif_type, details = binding.UNBOUND
        for port_id, *_ in repo.router_ports(conn, router_id):
            values = {"binding_host_id": "", "binding_vif_type": vif_type, "status": "DOWN"}
            tx.updated(Resource.PORT, str(port_id), {**values, "binding_vif_details": details})
    _record(tx, router_id)
