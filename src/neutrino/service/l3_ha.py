"""L3 HA (Neutron's ``l3-ha``): the HA network, VRRP ids, HA ports and agents' state reports.

An HA router (``routers.ha``) is hosted by up to ``max_l3_agents_per_router`` L3 agents at
once (``service.l3_scheduler``). Each of them builds the whole router (every interface and
gateway port, whatever host they are bound to) and runs keepalived in the router's namespace;
VRRP, not the controller, decides which one forwards: only the master holds the ports'
addresses. What the controller keeps for that:

- **the HA network** of the router's project: one per project, made with its first HA router,
  named ``HA network tenant <project>`` and owned by no project (project ``''``, as Neutron
  does, so the project neither sees it nor pays quota for it), an ordinary tenant network
  (VXLAN here) with one subnet ``169.254.192.0/18`` without gateway or DHCP. Its addresses
  exist only inside the router namespaces the agents make. It is deleted with the project's
  last HA router (deleted, or made legacy), as Neutron does. Both sides take the project's
  ``ha_network_lock`` first (an advisory lock on PostgreSQL; SQLite serializes writers), so
  a router created meanwhile either is seen (the network stays) or waits and, finding none,
  makes a new one: it never keeps a router on a deleted network;
- **a VRRP router id** per HA router (``routers.ha_vr_id``, 1..254), the smallest free one
  among the project's HA routers (they share the HA network, so the ids must differ); a unique
  index makes two concurrent creates in one project collide and retry;
- **an HA port** per hosting agent (``device_owner: network:router_ha_interface``, device id
  the router, project ``''``), bound to that agent's host: the L2 agent wires it like any
  port, and keepalived speaks VRRP through it (``ha-<port[:11]>`` in the namespace);
- **the reported state** (``router_l3_bindings.ha_state``: ``active``/``standby``), posted by
  each agent when keepalived changes state. A report of ``active`` also binds the router's
  interface and gateway ports to the reporting host, so l2population on every other host
  points the router's MACs at the new master (the VXLAN devices learn nothing by themselves).

Everything runs in the caller's transaction; no retries here (``Store.write`` retries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neutrino.common.errors import NamedConflict
from neutrino.service import ipam, system_ports
from neutrino.store import l3 as repo
from neutrino.store import locks, raw
from neutrino.store import ports as port_repo
from neutrino.store import routers as router_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx

HA_INTERFACE = repo.HA_INTERFACE
HA_CIDR = "169.254.192.0/18"
HA_STATES = ("active", "standby")
MAX_VR_ID = 254


@dataclass(frozen=True)
class HaConfig:
    """The server's L3 HA options: ``l3_ha`` (a router created without ``ha`` is HA),
    ``max_l3_agents_per_router`` (how many agents host an HA router; Neutron's default 3),
    and what HA ports need to be made (MAC prefix, IPAM window)."""

    default_ha: bool = False
    max_agents: int = 3
    base_mac: str = "fa:16:3e:00:00:00"
    window: int = 16


def network_name(project: str) -> str:
    return f"HA network tenant {project}"


def allocate_vr_id(tx: Tx, project: str) -> int:
    used = repo.used_vr_ids(tx.conn, project)
    for vr_id in range(1, MAX_VR_ID + 1):
        if vr_id not in used:
            return vr_id
    raise NamedConflict(
        "NoVRIDAvailable",
        "No more Virtual Router Identifier (VRID) available when creating router "
        f"for tenant {project}.",
    )


def ha_network_lock(tx: Tx, project: str) -> None:
    """Serialize the writers that make or delete ``project``'s HA network (see above)."""
    locks.key(tx.conn, f"ha-network {project}")


def other_ha_routers(tx: Tx, project: str, router_id: str) -> bool:
    """Whether ``project`` has HA routers besides ``router_id`` (committed ones: run it
    after ``ha_network_lock``)."""
    row = raw.one(
        tx.conn,
        "SELECT 1 FROM routers WHERE project_id = ? AND ha AND id <> ? LIMIT 1",
        (project, router_id),
    )
    return row is not None


def ha_network(tx: Tx, project: str) -> str | None:
    row = raw.one(
        tx.conn,
        "SELECT id FROM networks WHERE name = ? AND project_id = '' ORDER BY id",
        (network_name(project),),
    )
    return None if row is None else str(row[0])


def sync_ha_ports(tx: Tx, router_id: str, hosts: list[str], config: HaConfig) -> None:
    """One HA port per host of the router, bound there; the ports of hosts that no longer
    host it deleted (none at all when ``hosts`` is empty)."""
    ha = repo.router_ha(tx.conn, router_id)
    existing = repo.ha_ports(tx.conn, router_id)
    have = {host for _, host in existing}
    for port_id, host in existing:
        if host not in hosts:
            _delete_port(tx, port_id)
    if ha is None or not hosts:
        return
    network_id = ha_network(tx, ha[2])
    if network_id is None:  # made with the router; gone only if an admin deleted it
        return
    for host in hosts:
        if host not in have:
            _create_port(tx, router_id, network_id, host, config)


def _create_port(tx: Tx, router_id: str, network_id: str, host: str, config: HaConfig) -> None:
    conn = tx.conn
    locks.for_change(conn, "networks", network_id)
    port = system_ports.insert(
        tx,
        network_id,
        config.base_mac,
        device_id=router_id,
        device_owner=HA_INTERFACE,
        name=f"HA port tenant {router_id}",
        host=host,
    )
    port_id, mac = port["id"], port["mac_address"]
    ipam.allocate(
        tx, network_id, None, mac, port_id=port_id, device_owner=HA_INTERFACE, window=config.window
    )
    router_repo.attach_port(conn, router_id, port_id, HA_INTERFACE)
    tx.created(Resource.PORT, port_id)


def _delete_port(tx: Tx, port_id: str) -> None:
    port = port_repo.find(tx.conn, port_id)
    if port is None:
        return
    tx.deleted(Resource.PORT, port)
    ipam.release(tx, port_id)
    port_repo.delete_row(tx.conn, port_id)


def active_host(tx: Tx, router_id: str) -> str | None:
    """The host whose agent last reported the router ``active`` (None: none has)."""
    states = repo.ha_states(tx.conn, router_id)
    return next((h for h, s in states.items() if s == "active"), None)


def record_state(tx: Tx, router_id: str, host: str, state: str) -> bool:
    """An agent's report: ``host`` holds the router in ``state``. ``active`` moves the other
    hosts' ``active`` to ``standby`` (a master that died cannot say so itself). Returns
    whether anything changed; raises when the host does not host the router."""
    states = repo.ha_states(tx.conn, router_id)
    if host not in states:
        raise NamedConflict(
            "RouterNotHostedByL3Agent",
            f"The router {router_id} is not hosted by the L3 agent on host {host}.",
        )
    changed = states[host] != state
    if changed:
        repo.set_ha_state(tx.conn, router_id, host, state)
    if state == "active":
        for other, other_state in states.items():
            if other != host and other_state == "active":
                repo.set_ha_state(tx.conn, router_id, other, "standby")
                changed = True
    if changed:
        tx.updated(Resource.ROUTER_L3_AGENT, {"id": router_id, "project_id": ""})
    return changed


def hosting(conn: Any, router_id: str) -> dict[str, str | None]:
    """host -> reported state of the router's agents (``l3-agents`` of a router)."""
    return repo.ha_states(conn, router_id)
