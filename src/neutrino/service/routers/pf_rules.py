"""What a port forwarding must satisfy, and what it forbids or changes elsewhere (Neutron's
``pf_plugin`` checks), run inside the caller's transaction.

- :func:`target`: the internal port must be visible to the caller (404 ``PortNotFound``), hold
  no floating IP of its own (409 ``PortHasBindingFloatingIP``) and have the internal address
  among its IPv4 fixed IPs (400); a router must connect that address's subnet to the floating
  IP's network (400), and be the floating IP's router when it already has one (400);
- :func:`check_collisions`: no overlap with another forwarding of the floating IP and protocol
  on the outside, nor of the internal (port, address, protocol) on the inside (400, Neutron's
  "port collision" message: its tempest tests expect 400, not 409);
- :func:`check_fip_free`: a floating IP with forwardings cannot be associated with a port
  (409 ``FipInUseByPortForwarding``) nor deleted (the same 409); a floating IP associated with a
  port cannot get forwardings (409 ``FloatingIPPortAlreadyAssociated``, in the service);
- :func:`forget_port`: deleting an internal port, or removing the fixed IP a forwarding uses,
  deletes those forwardings; the floating IP's router is cleared with its last forwarding
  (:func:`release_router`), as Neutron does.

Each change is logged (``port_forwarding`` and ``floatingip``) in the caller's transaction.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from neutrino.common.errors import NamedBadRequest, NamedConflict, NamedNotFound, ResourceNotFound
from neutrino.domain import port_forwarding as pfd
from neutrino.service.context import RequestContext
from neutrino.service.routers import fip_assoc
from neutrino.store import floatingips as fip_repo
from neutrino.store import port_forwardings as repo
from neutrino.store import ports as port_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx


def bad(message: str) -> NamedBadRequest:
    return NamedBadRequest("BadRequest", f"Bad port_forwarding request: {message}.")


@dataclass(frozen=True)
class Target:
    router_id: str
    internal_ip_address: str


def target(conn: Any, ctx: RequestContext, fip: Any, port_id: str, address: str) -> Target:
    """The router that serves ``fip`` for (port, address), checking the rules above."""
    port = port_repo.find(conn, port_id)
    if port is None or not fip_assoc.port_visible(conn, ctx, port):
        raise ResourceNotFound("Port", port_id)
    bound = fip_repo.on_fixed_port(conn, port_id)
    if bound:
        raise NamedConflict(
            "PortHasBindingFloatingIP",
            f"Cannot create port forwarding to floating IP {bound[0]['floating_ip_address']} "
            f"({bound[0]['id']}) with port {port_id} using fixed IP {address}, as that port "
            f"already has a binding floating IP.",
        )
    v4 = [
        (s, a) for s, a in fip_repo.fixed_ips(conn, port_id) if ipaddress.ip_address(a).version == 4
    ]
    if not v4:
        raise bad(f"Requested internal port {port_id} must allocate an IPv4 address at least")
    subnet_id = next((s for s, a in v4 if a == address), None)
    if subnet_id is None:
        shown = [{"subnet_id": s, "ip_address": a} for s, a in v4]
        raise bad(
            f"Requested internal IP address {address} is not suitable for internal neutron "
            f"port {port_id}, as its fixed_ips are {shown}"
        )
    try:
        router_id = fip_assoc.router_for(conn, port, subnet_id, fip["floating_network_id"])
    except NamedNotFound:
        raise bad(
            f"External network {fip['floating_network_id']} is not reachable from subnet "
            f"{subnet_id}. Cannot set Port forwarding for port {port_id} with Floating IP "
            f"{fip['id']}"
        ) from None
    if fip["router_id"] and fip["router_id"] != router_id:
        raise bad(
            f"The Floating IP {fip['id']} had been set on router {fip['router_id']}, the "
            f"internal Neutron port {port_id} can not reach it"
        )
    return Target(router_id, address)


def check_collisions(conn: Any, fip_id: str, pf: dict[str, Any], own_id: str | None) -> None:
    """``pf``: the forwarding's full values (columns). Overlaps with the others -> 400."""
    external = (pf["external_port_start"], pf["external_port_end"])
    internal = (pf["internal_port_start"], pf["internal_port_end"])
    try:
        pfd.check_relation(internal, external)
    except ValueError as exc:
        raise bad(str(exc)) from None
    for other in repo.of_floating_ip(conn, fip_id):
        theirs = (other["external_port_start"], other["external_port_end"])
        if (
            other["id"] != own_id
            and other["protocol"] == pf["protocol"]
            and pfd.overlaps(theirs, external)
        ):
            raise _collision("external_port_range", theirs, external)
    for other in repo.of_internal_port(conn, pf["internal_port_id"]):
        theirs = (other["internal_port_start"], other["internal_port_end"])
        if (
            other["id"] != own_id
            and other["protocol"] == pf["protocol"]
            and other["internal_ip_address"] == pf["internal_ip_address"]
            and pfd.overlaps(theirs, internal)
        ):
            raise _collision("internal_port_range", theirs, internal)


def _collision(key: str, theirs: pfd.PortRange, ours: pfd.PortRange) -> NamedBadRequest:
    return bad(
        f"There is a port collision with the {key}. The following ranges collides: "
        f"{pfd.range_text(theirs)} and {pfd.range_text(ours)}"
    )


def check_fip_free(conn: Any, fip_id: str) -> None:
    if repo.exists_for(conn, fip_id):
        raise NamedConflict(
            "FipInUseByPortForwarding",
            f"Floating IP {fip_id} in use by Port Forwarding resources.",
        )


def delete(tx: Tx, pf: Any) -> None:
    """Delete one forwarding; the floating IP's router goes with its last one."""
    tx.deleted(Resource.PORT_FORWARDING, pf)
    repo.delete_row(tx.conn, pf["id"])
    release_router(tx, pf["floatingip_id"])


def release_router(tx: Tx, fip_id: str) -> None:
    """A floating IP left without forwardings (and not associated) is served by no router."""
    if repo.exists_for(tx.conn, fip_id):
        return
    fip = fip_repo.find(tx.conn, fip_id)
    if fip is not None and fip["fixed_port_id"] is None and fip["router_id"] is not None:
        tx.updated(Resource.FLOATINGIP, fip_id, {"router_id": None, "status": "DOWN"})


def forget_port(tx: Tx, port_id: str, kept: Iterable[str] = ()) -> None:
    """Delete the forwardings to ``port_id`` whose internal address is not in ``kept``."""
    keep = set(kept)
    for pf in repo.of_internal_port(tx.conn, port_id):
        if pf["internal_ip_address"] not in keep:
            delete(tx, pf)
