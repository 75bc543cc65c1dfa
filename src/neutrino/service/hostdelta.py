"""Host state from events: the delta a host's new changes make, built from the items they touch.

``advance(conn, host, base, changes, revision)`` takes the wire form ``base`` a host was
served and the change-log rows logged since, and returns the ``statedelta`` taking ``base`` to
the host's state now, labelled ``revision`` — reading only what those changes touch, so a port
bound to a host with 5,000 others costs what it costs on a host with ten. It returns None
when the changes need the whole state recomputed (``hoststate.compute``): a change of any
kind but a port's (networks, subnets, agents, security groups and rules, routers, floating
IPs: rare, and each may reach every item), more than ``MAX_PORTS`` ports, or a port that
feeds the routers or DHCP sections as their own port (router, floating-IP and DHCP ports;
a deleted port whose owner is unknown on a host with routers).

For each changed port, with its row as it is now (or none: deleted):

- ``ports``: its item when bound here, removed when it was here and is not any more;
- ``networks``: the networks of the changed ports that gain or lose their first or last port
  here (one ``DISTINCT`` over those networks' ports bound here);
- ``l2pop`` and ``dhcp``: each present network a changed port is on gets its item rebuilt
  (``l2pop`` for VXLAN networks, ``dhcp`` for networks served here), a departed network's
  items go; an ``l2pop`` item ``base`` holds is patched instead: only the changed ports are
  read, and each is listed again if it is remote with a tunnel endpoint now (a 100-port
  network's item: 3.8 ms rebuilt, 0.18 ms patched, at load 13);
- ``security_groups``: groups a changed port here brings are read, groups no port here uses
  any more go; ``remote_groups`` follow the rules of the groups present, and
  ``remote_members`` (one item per group and address, ``sgstate``) their members: when every
  changed port was created since ``base`` (the hot path: a VM's new port), its addresses join
  the groups it is in, one item each, whatever the groups' sizes; otherwise (a port updated
  or deleted may have left a group, and its old addresses are not logged) each remote group
  present is read again (one query, its members' size) and compared with its run of items;
  ``address_groups`` follow the rules present too (a newly named one is read, one no rule
  names any more goes).

Items are rebuilt by ``service.hoststate``'s section builders, the ones ``compute`` uses, and
an item equal to the one in ``base`` is not sent. ``tests/service/test_hostdelta.py`` checks
``patch(base, advance(...)) == compute(...)`` for random change sequences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from neutrino.domain import statedelta
from neutrino.domain.dns import DnsConfig
from neutrino.domain.hoststate import VIF_BRIDGE, HostState, PortState
from neutrino.domain.sgstate import member_key, members_of
from neutrino.service.changetail import Change
from neutrino.service.hoststate import (
    DHCP_OWNER,
    address_group_states,
    dhcp_networks,
    group_states,
    l2pop_states,
    network_states,
    port_states,
    remote_group_states,
)
from neutrino.store import hostsync as repo

MAX_PORTS = 64  # more changed ports than this: one full recompute is cheaper
OWN_SECTION = ("network:router", "network:floatingip", "network:ha_router", DHCP_OWNER)

Item = dict[str, Any]
Delta = dict[str, Any]


def advance(
    conn: Any,
    host: str,
    base: Item,
    changes: Iterable[Change],
    revision: int,
    dns: DnsConfig = DnsConfig(),
) -> Delta | None:
    """The delta from ``base`` to ``host``'s state at ``revision``; None: recompute it
    (``dns``: the controller's domain, as ``hoststate.compute`` takes it)."""
    ops: dict[str, set[str]] = {}
    logged: dict[str, set[str]] = {}  # a deleted port's network is only in the log
    for _, rtype, op, net, _bound, resource_id, *_ in changes:
        if op == "status":  # an agent's report: no host state carries a status
            continue
        if rtype != "port" or len(ops) > MAX_PORTS:
            return None
        ops.setdefault(resource_id, set()).add(op)
        if net is not None:
            logged.setdefault(resource_id, set()).add(net)
    delta: Delta = {"set": {"revision": revision}, "upsert": {}, "remove": {}}
    if not ops:
        return delta
    # the changed ports as served (found by bisection: no walk of the host's other ports)
    held = ((pid, statedelta.find(base["ports"], "id", pid)) for pid in ops)
    old_ports = {pid: item for pid, item in held if item is not None}
    rows = {r[0]: r for r in repo.ports_by_id(conn, sorted(ops))}
    for pid in ops:
        owner = rows[pid][4] if pid in rows else old_ports.get(pid, {}).get("device_owner")
        if (owner is None and base["routers"]) or (owner or "").startswith(OWN_SECTION):
            return None
    changed = {p.id: p for p in port_states(conn, list(rows.values()))}
    here = {pid: changed[pid] for pid, r in rows.items() if r[7] == host and r[8] == VIF_BRIDGE}

    def networks_of(pid: str) -> set[str]:
        """Every network the port was or is on, as logged, as it is, as it was served."""
        now = {rows[pid][1]} if pid in rows else set()
        was = {old_ports[pid]["network_id"]} if pid in old_ports else set()
        return logged.get(pid, set()) | now | was

    nets = {n for pid in ops for n in networks_of(pid)}
    # l2pop lists remote ports only: a port here now that was here (or is new) leaves it be;
    # any other change (a remote port's, one arriving or leaving) may change its network's
    remote = {
        n
        for pid in ops
        if not (pid in here and (pid in old_ports or ops[pid] == {"create"}))
        for n in networks_of(pid)
    }
    _ports(delta, old_ports, here, ops)
    present = _networks(conn, delta, host, base, old_ports, here, ops)
    remote |= present.keys() - {n["id"] for n in base["networks"]}  # gained: all of it new
    _per_network(conn, delta, host, base, nets, remote, present, dns, sorted(ops))
    groups = _groups(conn, delta, base, old_ports, here, ops)
    _members(conn, delta, base, groups, changed, ops)
    return delta


def _put(delta: Delta, field: str, key: str, old: Sequence[Item], new: Iterable[Item]) -> None:
    before = {i[key]: i for i in old}
    items = [i for i in new if before.get(i[key]) != i]
    if items:
        delta["upsert"][field] = {"key": key, "items": items}


def _drop(delta: Delta, field: str, key: str, old: Sequence[Item], gone: Iterable[str]) -> None:
    keys = sorted(set(gone) & {i[key] for i in old})
    if keys:
        delta["remove"][field] = {"key": key, "keys": keys}


def _items(field: str, values: Iterable[Any]) -> list[Item]:
    """Items in their wire form, made by ``HostState.to_dict`` itself (derived names too)."""
    sections: dict[str, Any] = {field: tuple(values)}
    items: list[Item] = HostState(host="", revision=0, **sections).to_dict()[field]
    return items


def _ports(
    delta: Delta, old_ports: dict[str, Item], here: dict[str, PortState], ops: dict[str, set[str]]
) -> None:
    new = _items("ports", tuple(here[p] for p in sorted(here)))
    items = [i for i in new if old_ports.get(i["id"]) != i]
    if items:
        delta["upsert"]["ports"] = {"key": "id", "items": items}
    gone = sorted(p for p in ops if p in old_ports and p not in here)
    if gone:
        delta["remove"]["ports"] = {"key": "id", "keys": gone}


def _networks(
    conn: Any,
    delta: Delta,
    host: str,
    base: Item,
    old_ports: dict[str, Item],
    here: dict[str, PortState],
    ops: dict[str, set[str]],
) -> dict[str, Item]:
    """Networks gained (a changed port here is the first on it) and lost (a port that left
    was the last); the networks present after (id -> wire item)."""
    had = {n["id"]: n for n in base["networks"]}
    kept = {p.network_id for p in here.values()}
    left = {old_ports[p]["network_id"] for p in ops if p in old_ports and p not in here}
    gone = {n for n in left - kept if not repo.has_port_on(conn, host, n)}
    gained = _items("networks", network_states(conn, sorted(kept - set(had))))
    _put(delta, "networks", "id", base["networks"], gained)
    for field in ("networks", "l2pop", "dhcp"):
        key = "id" if field == "networks" else "network_id"
        _drop(delta, field, key, base[field], gone)
    return {n["id"]: n for n in gained} | {n: item for n, item in had.items() if n not in gone}


def _per_network(
    conn: Any,
    delta: Delta,
    host: str,
    base: Item,
    nets: set[str],
    remote: set[str],
    present: dict[str, Item],
    dns: DnsConfig,
    changed: list[str],
) -> None:
    """The l2pop items of the present networks whose remote ports may have changed, and the
    DHCP items of the present networks a changed port is on."""
    tunnelled = sorted(n for n in remote & present.keys() if present[n]["network_type"] == "vxlan")
    had = {p["network_id"]: p for p in base["l2pop"]}
    pops = _items("l2pop", l2pop_states(conn, [n for n in tunnelled if n not in had], host))
    pops += _l2pop_patched(conn, host, [had[n] for n in tunnelled if n in had], changed)
    _put(delta, "l2pop", "network_id", base["l2pop"], pops)
    empty = set(tunnelled) - {p["network_id"] for p in pops}
    _drop(delta, "l2pop", "network_id", base["l2pop"], empty)
    served = [d for d in base["dhcp"] if d["network_id"] in nets and d["network_id"] in present]
    ports = [PortState.from_dict(d["port"]) for d in served]
    dhcp = _items("dhcp", dhcp_networks(conn, ports, dns))
    _put(delta, "dhcp", "network_id", base["dhcp"], dhcp)


def _l2pop_patched(conn: Any, host: str, items: list[Item], changed: list[str]) -> list[Item]:
    """The l2pop ``items`` held with the ``changed`` ports' entries read again (a port bound
    elsewhere, with a tunnel endpoint, is listed; any other is not): only the changed ports
    are read, not every remote port of the network. An item left with no port is dropped."""
    if not items:
        return []
    ids = set(changed)
    fresh = l2pop_states(conn, [i["network_id"] for i in items], host, changed)
    now = {p["network_id"]: p["ports"] for p in _items("l2pop", fresh)}
    out = []
    for item in items:
        ports = [p for p in item["ports"] if p["id"] not in ids] + now.get(item["network_id"], [])
        if ports:
            ports.sort(key=lambda p: p["id"])
            vteps = sorted({p["vtep"] for p in ports})
            out.append({"network_id": item["network_id"], "vteps": vteps, "ports": ports})
    return out


def _groups(
    conn: Any,
    delta: Delta,
    base: Item,
    old_ports: dict[str, Item],
    here: dict[str, PortState],
    ops: dict[str, set[str]],
) -> list[Item]:
    """Groups brought and left by the changed ports here; the host's groups after."""
    had = {g["id"]: g for g in base["security_groups"]}
    brought = sorted({g for p in here.values() for g in p.security_groups} - set(had))
    new = _items("security_groups", group_states(conn, brought))
    _put(delta, "security_groups", "id", base["security_groups"], new)
    left = {g for pid in ops if pid in old_ports for g in old_ports[pid]["security_groups"]}
    left -= {g for p in here.values() for g in p.security_groups}
    if left:  # still used by a port here that did not change?
        left -= {g for p in base["ports"] if p["id"] not in ops for g in p["security_groups"]}
        _drop(delta, "security_groups", "id", base["security_groups"], left)
    return [g for gid, g in had.items() if gid not in left] + new


def _members(
    conn: Any,
    delta: Delta,
    base: Item,
    groups: list[Item],
    changed: dict[str, PortState],
    ops: dict[str, set[str]],
) -> None:
    """The remote groups the host's rules name, and their members (one item each)."""
    had = {g["id"] for g in base["remote_groups"]}
    wanted = sorted({r["remote_group_id"] for g in groups for r in g["rules"]} - {None})
    gone = had - set(wanted)
    _drop(delta, "remote_groups", "id", base["remote_groups"], gone)
    _put(delta, "remote_groups", "id", [], [{"id": g} for g in wanted if g not in had])
    if all(o == {"create"} for o in ops.values()):  # new ports only join groups
        read = [g for g in wanted if g not in had]
        kept = had.intersection(wanted)
        now = {member_key(g, a) for p in changed.values() for g, a in _joins(p, kept)}
    else:  # a port updated or deleted may have left a group (its old addresses not logged)
        read, now = wanted, set()
    now |= {member_key(g.id, a) for g in remote_group_states(conn, read) for a in g.addresses}
    members = base.get("remote_members", [])
    held = {i["id"] for g in sorted(gone | had.intersection(read)) for i in members_of(members, g)}
    new = sorted(k for k in now - held if statedelta.find(members, "id", k) is None)
    if new:
        delta["upsert"]["remote_members"] = {"key": "id", "items": [{"id": k} for k in new]}
    if held - now:
        delta["remove"]["remote_members"] = {"key": "id", "keys": sorted(held - now)}
    # address groups: only the rules present decide; their addresses move by a change of the
    # group (a whole recompute), never by a port's
    had_ag = base.get("address_groups", [])
    named = sorted({r.get("remote_address_group_id") for g in groups for r in g["rules"]} - {None})
    _drop(delta, "address_groups", "id", had_ag, {a["id"] for a in had_ag} - set(named))
    new_ag = [a for a in named if a not in {x["id"] for x in had_ag}]
    _put(
        delta,
        "address_groups",
        "id",
        had_ag,
        _items("address_groups", address_group_states(conn, new_ag)),
    )


def _joins(port: PortState, groups: set[str]) -> Iterable[tuple[str, str]]:
    """(group, address) for each of ``groups`` the new ``port`` is in, for each address."""
    addresses = [f.ip_address for f in port.fixed_ips]
    addresses += [a.ip_address for a in port.allowed_address_pairs]
    return ((g, a) for g in port.security_groups if g in groups for a in addresses)
