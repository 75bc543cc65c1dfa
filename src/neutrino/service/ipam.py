"""Fixed-IP allocation for ports, run inside the caller's write transaction (``tx``).

Owns the rows of ``ip_allocations``: ``allocate`` (port create), ``reallocate`` (port update of
``fixed_ips``), ``release`` (port delete) and ``add_auto_addresses`` (a new SLAAC subnet gives
every existing port its EUI-64 address). Semantics are Neutron's: with no request a port gets
one address from the first IPv4 subnet with room, one from the first DHCPv6-stateful (or
mode-less) IPv6 subnet with room, and its EUI-64 address on every SLAAC/DHCPv6-stateless subnet
(router interfaces excepted); explicit requests are checked and served first.

Race safety: an automatic address is a random pick among the first ``window`` free addresses
of the subnet's pools, then an INSERT. Two concurrent writers picking the same address collide
on the (subnet_id, ip_address) primary key; the loser's whole transaction is retried by
``Store.write`` and sees the winner's row. Nothing here locks subnets.

Speed: free addresses are computed from the used ones of the pool range, read in key order
from an index, ``window``-ish rows at a time, starting at a *floor*: an in-process hint per
subnet below which every pool address was allocated when last looked at. The hint only says
where to start reading; the database stays the truth:
- it is dropped when the subnet's pools change, ignored when the change log shows a change
  of a kind its ``INTEREST`` does not ignore (a delete or update) on the network since it was
  observed (so addresses freed by any server, this one or
  another, are found again: one indexed look at the changes since then), and lowered at once by
  ``release`` in-process;
- it never rises above an address this transaction inserted (a rollback frees that address);
- a subnet that looks full from its floor is rescanned from its first pool address before
  ``IpAddressGenerationFailure`` (409) is raised, so exhaustion is never reported falsely.
"""

from __future__ import annotations

import ipaddress
import random
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from neutrino.common.errors import (
    BadRequest,
    InvalidInput,
    NamedBadRequest,
    NamedConflict,
    ResourceNotFound,
    excerpt,
)
from neutrino.domain import ipam as ip
from neutrino.domain import service_types as st
from neutrino.domain.attributes import Invalid, ip_address, uuid
from neutrino.service.ipam_floors import INTEREST, Floors
from neutrino.store import changelog
from neutrino.store import subnet_service_types as type_repo
from neutrino.store import subnets as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx

SCAN_BATCH = 64  # used addresses read per query while looking for free ones
_rng = random.SystemRandom()


@dataclass(frozen=True)
class SubnetInfo:
    id: str
    network_id: str
    net: ip.Network
    gateway: int | None
    auto: bool
    pools: tuple[ip.Interval, ...]
    service_types: tuple[str, ...] = ()  # subnet-service-types: ``domain.service_types``
    dhcp: bool = True

    @property
    def version(self) -> int:
        return self.net.version


def load_subnets(conn: Any, network_id: str) -> list[SubnetInfo]:
    """The network's subnets with their pools and service types, in creation order (two
    queries)."""
    rows: dict[str, list[Any]] = {}
    for sid, net_id, cidr, gateway, ra, mode, dhcp, first, last in repo.ipam_subnets(
        conn, network_id
    ):
        entry = rows.setdefault(sid, [net_id, cidr, gateway, ra, mode, [], dhcp])
        if first is not None:
            entry[5].append((ip.to_int(first), ip.to_int(last)))
    types = type_repo.on_network(conn, network_id)
    return [
        SubnetInfo(
            id=sid,
            network_id=net_id,
            net=ip.network(cidr),
            gateway=ip.to_int(gateway) if gateway else None,
            auto=ip.is_auto_address(ra, mode),
            pools=tuple(sorted(pools)),
            service_types=tuple(types.get(sid, ())),
            dhcp=bool(dhcp),
        )
        for sid, (net_id, cidr, gateway, ra, mode, pools, dhcp) in rows.items()
    ]


def candidates(subnets: list[SubnetInfo], device_owner: str, network_id: str) -> list[SubnetInfo]:
    """The subnets that may address a port of ``device_owner``, those with service types
    first (Neutron's ``_ipam_get_subnets``); 409 when the network has subnets but none fits."""
    fit = [s for s in subnets if st.serves(s.service_types, s.dhcp, device_owner)]
    if subnets and not fit:
        raise NamedConflict(
            "IpAddressGenerationFailureNoMatchingSubnet",
            f"No valid service subnet for the given device owner, network {network_id}, "
            f"service type {excerpt(device_owner)}.",
        )
    return sorted(fit, key=lambda s: not s.service_types)


# --- the floor hints ----------------------------------------------------------------------


FLOORS = Floors()
# Lowest address each live transaction inserted per subnet: floors never rise above them.
_inserted: weakref.WeakKeyDictionary[Tx, dict[str, int]] = weakref.WeakKeyDictionary()


def forget(subnet_id: str) -> None:
    """The subnet's pools changed or it is gone: drop its hint."""
    FLOORS.forget(subnet_id)


def first_free(
    tx: Tx, subnet: SubnetInfo, count: int, *, use_floor: bool = True
) -> list[ip.Interval]:
    """The first ``count`` free addresses of the subnet's pools (fewer when it is fuller)."""
    floor, gen, since = FLOORS.get(subnet.id, subnet.pools)
    # Any server may have freed addresses of this network since the floor was observed: the
    # change log says so (a delete or update on the network), and then we rescan.
    revision, released = (
        (changelog.latest(tx.conn), False)
        if floor is None
        else changelog.touched(tx.conn, subnet.network_id, since, INTEREST.ignored)
    )
    if not use_floor or released:
        floor = None
    found: list[ip.Interval] = []
    batch = max(SCAN_BATCH, 2 * count)
    for lo, hi in subnet.pools:
        if floor is not None:
            if hi < floor:
                continue
            lo = max(lo, floor)
        cursor = lo
        while cursor <= hi and ip.size(found) < count:
            keys = repo.used_keys(
                tx.conn,
                subnet.id,
                ip.key(cursor, subnet.version),
                ip.key(hi, subnet.version),
                batch,
            )
            used = [ip.from_key(k) for k in keys]
            upper = used[-1] if len(used) == batch else hi
            found.extend(ip.take(ip.gaps(cursor, upper, used), count - ip.size(found)))
            cursor = upper + 1
        if ip.size(found) >= count:
            break
    end = max((p[1] for p in subnet.pools), default=-1) + 1
    observed = found[0][0] if found else end
    mine = _inserted.get(tx, {}).get(subnet.id)
    FLOORS.advance(
        subnet.id, subnet.pools, observed if mine is None else min(observed, mine), gen, revision
    )
    return found


# --- requests -------------------------------------------------------------------------------


@dataclass
class _Want:
    """One address to allocate: a given one, or any from the first of ``subnets`` with room."""

    subnets: list[SubnetInfo]
    address: int | None = None
    explicit: bool = False


def _in_use(subnet: SubnetInfo, address: int) -> NamedConflict:
    return NamedConflict(
        "IpAddressAlreadyAllocated",
        f"IP address {ip.to_text(address, subnet.version)} already allocated in subnet {subnet.id}",
    )


def _exhausted(network_id: str) -> NamedConflict:
    return NamedConflict(
        "IpAddressGenerationFailure", f"No more IP addresses available on network {network_id}."
    )


def _check_format(requested: list[dict[str, Any]]) -> None:
    """The shape Neutron's ``fixed_ips`` validator accepts (the port spec checks it too)."""
    seen: set[str] = set()
    for entry in requested:
        if not isinstance(entry, dict) or set(entry) - {"subnet_id", "ip_address"}:
            raise _bad_fixed_ips(f"Invalid data format for fixed IP: '{entry}'")
        try:
            if "subnet_id" in entry:
                uuid(entry["subnet_id"])
            if "ip_address" in entry:
                address = ip_address(entry["ip_address"])
                if address in seen:
                    raise Invalid(f"Duplicate IP address '{entry['ip_address']}'")
                seen.add(address)
        except Invalid as exc:
            raise _bad_fixed_ips(str(exc)) from None


def _bad_fixed_ips(reason: str) -> BadRequest:
    return BadRequest(f"Invalid input for fixed_ips. Reason: {reason}.")


def _fits(subnet: SubnetInfo, address: str, device_owner: str) -> bool:
    value, version = ip.parse(address)
    return version == subnet.version and ip.valid_for_subnet(subnet.net, value, device_owner)


def _subnet_for(
    tx: Tx, subnets: list[SubnetInfo], entry: dict[str, Any], network_id: str, device_owner: str
) -> SubnetInfo:
    """Neutron's ``_get_subnet_for_fixed_ip``: which subnet a fixed_ips entry is about."""
    if not subnets:
        raise InvalidInput("IP allocation requires subnets for network")
    address = entry.get("ip_address")
    if "subnet_id" in entry:
        subnet = next((s for s in subnets if s.id == entry["subnet_id"]), None)
        if subnet is None:
            if repo.find(tx.conn, entry["subnet_id"]) is None:
                raise ResourceNotFound("Subnet", entry["subnet_id"])
            raise InvalidInput(
                f"Failed to create port on network {network_id}, because "
                f"fixed_ips included invalid subnet {entry['subnet_id']}"
            )
        if address is not None and not _fits(subnet, address, device_owner):
            raise NamedBadRequest(
                "InvalidIpForSubnet",
                f"IP address {address} is not a valid IP for the specified subnet.",
            )
        return subnet
    if address is None:
        raise InvalidInput("IP allocation requires subnet_id or ip_address")
    for subnet in subnets:
        if _fits(subnet, address, device_owner):
            return subnet
    raise NamedBadRequest(
        "InvalidIpForNetwork",
        f"IP address {address} is not a valid IP for any of the subnets on the specified network.",
    )


def _plan(
    tx: Tx,
    subnets: list[SubnetInfo],
    requested: list[dict[str, Any]] | None,
    mac: str,
    network_id: str,
    device_owner: str,
    handled: set[str],
) -> list[_Want]:
    """What to allocate, in Neutron's order: explicit addresses, then any-address requests,
    then EUI-64 addresses on auto-address subnets not ``handled`` already."""
    router = device_owner in ip.ROUTER_INTERFACE_OWNERS_SNAT
    wants: list[_Want] = []
    if requested is None:
        for group in (
            [s for s in subnets if s.version == 4],
            [s for s in subnets if s.version == 6 and not s.auto],
        ):
            if group:
                wants.append(_Want(group))
    else:
        _check_format(requested)
        for entry in requested:
            subnet = _subnet_for(tx, subnets, entry, network_id, device_owner)
            if "ip_address" in entry:
                handled.add(subnet.id)
                address = ip.to_int(entry["ip_address"])
                if (
                    subnet.auto
                    and device_owner not in ip.ROUTER_INTERFACE_OWNERS
                    and address != ip.eui64(subnet.net, mac)
                ):
                    raise NamedBadRequest(
                        "AllocationOnAutoAddressSubnet",
                        f"IPv6 address {entry['ip_address']} cannot be directly assigned to a "
                        f"port on subnet {subnet.id} as the subnet is configured for automatic "
                        f"addresses",
                    )
                wants.append(_Want([subnet], address, explicit=True))
            elif router or not subnet.auto:
                handled.add(subnet.id)
                wants.append(_Want([subnet]))
            # else: its EUI-64 address comes with the auto-address pass below
    if not router:
        wants.extend(
            _Want([s], ip.eui64(s.net, mac)) for s in subnets if s.auto and s.id not in handled
        )
    wants.sort(key=lambda w: not w.explicit)
    return wants


def _execute(
    tx: Tx, network_id: str, port_id: str, wants: list[_Want], window: int, position: int
) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for want in wants:
        if want.address is not None:
            subnet, address = want.subnets[0], want.address
        else:
            subnet, address = _pick_any(tx, want.subnets, window, network_id)
        text = _insert(
            tx, subnet, address, port_id, position + len(out), check=want.address is not None
        )
        out.append({"subnet_id": subnet.id, "ip_address": text})
    return out


def _insert(
    tx: Tx, subnet: SubnetInfo, address: int, port_id: str, position: int, *, check: bool = True
) -> str:
    """Insert one allocation (a given address is first checked to be free: 409)."""
    text = ip.to_text(address, subnet.version)
    if check and repo.holder(tx.conn, subnet.id, text):
        raise _in_use(subnet, address)
    repo.insert_allocations(
        tx.conn,
        [
            {
                "subnet_id": subnet.id,
                "ip_address": text,
                "ip_key": ip.key(address, subnet.version),
                "port_id": port_id,
                "network_id": subnet.network_id,
                "position": position,
            }
        ],
    )
    mine = _inserted.setdefault(tx, {})
    mine[subnet.id] = min(mine.get(subnet.id, address), address)
    return text


def _pick_any(
    tx: Tx, subnets: list[SubnetInfo], window: int, network_id: str
) -> tuple[SubnetInfo, int]:
    for use_floor in (True, False):
        for subnet in subnets:
            picked = ip.pick(first_free(tx, subnet, window, use_floor=use_floor), window, _rng)
            if picked is not None:
                return subnet, picked
    raise _exhausted(network_id)


# --- the interface used by the port and subnet services ----------------------------------


def allocate(
    tx: Tx,
    network_id: str,
    requested: list[dict[str, Any]] | None,
    mac: str,
    *,
    port_id: str,
    device_owner: str,
    window: int,
) -> list[dict[str, str]]:
    """Allocate a new port's fixed IPs; returns them in Neutron's order (rows inserted)."""
    subnets = candidates(load_subnets(tx.conn, network_id), device_owner, network_id)
    wants = _plan(tx, subnets, requested, mac, network_id, device_owner, set())
    return _execute(tx, network_id, port_id, wants, window, 0)


def reallocate(
    tx: Tx,
    network_id: str,
    port_id: str,
    current: list[dict[str, Any]],
    requested: list[dict[str, Any]],
    mac: str,
    *,
    device_owner: str,
    window: int,
    ipv4_frozen: bool = False,
) -> list[dict[str, str]]:
    """Port update of ``fixed_ips``: keep what is asked again, release what is not (addresses
    on auto-address subnets stay unless the port is a router interface), allocate the rest.
    Returns the port's fixed IPs afterwards. ``ipv4_frozen`` (a router's own internal port,
    ``l3-port-ip-change-not-allowed``): any IPv4 address added or removed is 400, as Neutron's
    IPAM refuses it; IPv6 changes and kept addresses pass."""
    _check_format(requested)
    subnets = load_subnets(tx.conn, network_id)
    by_id = {s.id: s for s in subnets}
    left_by_ip = {c["ip_address"]: c for c in current}
    keep: list[dict[str, Any]] = []
    add: list[dict[str, Any]] = []
    for entry in requested:
        if "ip_address" in entry:
            old = left_by_ip.pop(ip.canonical(entry["ip_address"]), None)
            if old is None:
                add.append(entry)
            else:
                keep.append(old)
    left_by_subnet: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for old in left_by_ip.values():
        left_by_subnet[old["subnet_id"]].append(old)
    maybe_remove: list[dict[str, Any]] = []
    for entry in requested:
        if "ip_address" in entry:
            continue
        olds = left_by_subnet.get(entry.get("subnet_id", ""))
        if not olds:
            add.append(entry)
            continue
        old = olds.pop()
        if ip.is_eui64(old["ip_address"]):
            add.append(entry)  # re-derived: the prefix or MAC may have changed
            maybe_remove.append(old)
        else:
            keep.append(old)
    maybe_remove = [o for olds in left_by_subnet.values() for o in olds] + maybe_remove
    router = device_owner in ip.ROUTER_INTERFACE_OWNERS_SNAT
    remove: list[dict[str, Any]] = []
    for old in maybe_remove:
        subnet = by_id.get(old["subnet_id"])
        (remove if router or subnet is None or not subnet.auto else keep).append(old)
    if ipv4_frozen and any(_is_ipv4(e, by_id) for e in add + remove):
        raise NamedBadRequest(
            "BadRequest", f"Bad ports request: IP updates for port {port_id} are not allowed."
        )
    handled = {o["subnet_id"] for o in keep + remove}
    usable = candidates(subnets, device_owner, network_id)
    wants = _plan(tx, usable, add, mac, network_id, device_owner, handled)
    if remove:
        repo.delete_allocations(
            tx.conn, port_id, [(o["subnet_id"], o["ip_address"]) for o in remove]
        )
        for old in remove:
            FLOORS.lower(old["subnet_id"], ip.to_int(old["ip_address"]))
    position = repo.next_positions(tx.conn, [port_id])[port_id]
    added = _execute(tx, network_id, port_id, wants, window, position)
    kept = [
        {"subnet_id": c["subnet_id"], "ip_address": c["ip_address"]}
        for c in current
        if any(c is k for k in keep)
    ]
    return kept + added


def _is_ipv4(entry: dict[str, Any], by_id: dict[str, SubnetInfo]) -> bool:
    """Whether a fixed-IP entry is IPv4: by its address, else by its subnet (an unknown subnet
    is not, and fails later as it would anyway)."""
    if entry.get("ip_address"):
        try:
            return ipaddress.ip_address(entry["ip_address"]).version == 4
        except ValueError:
            return False
    subnet = by_id.get(entry.get("subnet_id") or "")
    return subnet is not None and subnet.version == 4


def release(tx: Tx, port_id: str) -> None:
    """Free every address of the port (before its row is deleted)."""
    rows = repo.allocations_of_port(tx.conn, port_id)
    if rows:
        repo.delete_allocations(tx.conn, port_id)
        for r in rows:
            FLOORS.lower(r["subnet_id"], ip.from_key(r["ip_key"]))


def add_auto_addresses(tx: Tx, subnet: SubnetInfo) -> None:
    """A new SLAAC/DHCPv6-stateless subnet: give each port on the network (router interfaces
    excepted) its EUI-64 address there (each such port is updated)."""
    served = [
        p
        for p in repo.ports_on_network(tx.conn, subnet.network_id)
        if p["device_owner"] not in ip.ROUTER_INTERFACE_OWNERS_SNAT
        and st.serves(subnet.service_types, subnet.dhcp, p["device_owner"])
    ]
    positions = repo.next_positions(tx.conn, [p["id"] for p in served])
    for port in served:
        address = ip.eui64(subnet.net, port["mac_address"])
        if repo.holder(tx.conn, subnet.id, ip.to_text(address, 6)):
            continue  # Neutron skips a port whose address was taken meanwhile
        _insert(tx, subnet, address, port["id"], positions[port["id"]], check=False)
        tx.updated(Resource.PORT, port["id"])


def readdress(tx: Tx, network_id: str, port_id: str, mac: str) -> None:
    """The port's MAC changed: its EUI-64 addresses on auto-address subnets follow the new
    MAC (same positions), as Neutron re-derives them."""
    auto = {s.id: s for s in load_subnets(tx.conn, network_id) if s.auto}
    stale = [
        r
        for r in repo.allocations_of_port(tx.conn, port_id)
        if r["subnet_id"] in auto and ip.is_eui64(r["ip_address"])
    ]
    repo.delete_allocations(tx.conn, port_id, [(r["subnet_id"], r["ip_address"]) for r in stale])
    for r in stale:
        subnet = auto[r["subnet_id"]]
        _insert(tx, subnet, ip.eui64(subnet.net, mac), port_id, r["position"])
