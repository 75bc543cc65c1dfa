"""Resolving a floating IP's association: which port, which fixed address, which router.

Owns :func:`resolve`, the body of Neutron's ``_check_and_get_fip_assoc``, run inside the
create or update transaction before the row is written:

- ``fixed_ip_address`` without a ``port_id`` is refused (400);
- the port must be visible to the caller (else 404 ``Port``) and, unless the caller is admin,
  belong to the floating IP's project (400); DHCP ports cannot have a floating IP (400);
- the fixed address is the one asked for (it must be an IPv4 address of the port, 400
  otherwise) or the port's only IPv4 address (400 when it has none or several);
- the router is one with an interface on that address's subnet and its gateway on the
  floating IP's network, preferring the one holding the subnet's gateway IP (Neutron's
  ``get_router_for_floatingip``); none is 404 ``ExternalGatewayForFloatingIPNotFound``;
- or the router the caller names (``router_id``, extension ``floating-ip-router-writable``,
  for a port reached through other routers): it must be visible (404) and have its gateway on
  the floating IP's network (409); an association kept across an update keeps its router;
- one (external network, port, fixed address) has at most one floating IP: 409
  ``FloatingIPPortAlreadyAssociated``. On PostgreSQL the port is locked (``store.locks``,
  ``for_change``) before it is read, so associations to one port are made one at a time and
  the second sees the first; a port delete waits for the association and then disassociates
  it (or the association finds the port gone: 404). The unique key backs this.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from neutrino.common.errors import NamedBadRequest, NamedConflict, NamedNotFound, ResourceNotFound
from neutrino.service.context import RequestContext
from neutrino.store import floatingips as repo
from neutrino.store import locks
from neutrino.store import networks as network_repo
from neutrino.store import ports as port_repo
from neutrino.store import routers as router_repo
from neutrino.store import subnets as subnet_repo

NOT_SERVICED = frozenset({"network:dhcp"})  # Neutron's ``is_fip_serviced``


@dataclass(frozen=True)
class Association:
    port_id: str | None = None
    fixed_ip_address: str | None = None
    router_id: str | None = None

    def values(self) -> dict[str, Any]:
        return {
            "fixed_port_id": self.port_id,
            "fixed_ip_address": self.fixed_ip_address,
            "router_id": self.router_id,
        }


NONE = Association()


def bad(message: str) -> NamedBadRequest:
    return NamedBadRequest("BadRequest", f"Bad floatingip request: {message}.")


def resolve(conn: Any, ctx: RequestContext, fip: Any, attrs: dict[str, Any]) -> Association:
    """The association ``attrs`` asks for, for the floating IP ``fip`` (a row or the values
    of one being created). An update naming other attributes but no ``port_id`` keeps the
    current association; an empty update clears it (Neutron's historic behavior)."""
    port_id = attrs.get("port_id")
    keep = bool(attrs) and "port_id" not in attrs and bool(fip["fixed_port_id"])
    if attrs.get("fixed_ip_address") and not port_id:
        raise bad("fixed_ip_address cannot be specified without a port_id")
    if attrs.get("router_id") and not (port_id or keep):
        raise bad("router_id cannot be specified without a port_id")
    if port_id:
        wanted = _association(
            conn, ctx, fip, port_id, attrs.get("fixed_ip_address"), attrs.get("router_id")
        )
        if port_id == fip["fixed_port_id"]:
            return wanted
        holder = repo.holder_of(
            conn, fip["floating_network_id"], port_id, str(wanted.fixed_ip_address)
        )
        if holder is not None and holder != fip["id"]:
            raise NamedConflict(
                "FloatingIPPortAlreadyAssociated",
                f"Cannot associate floating IP {fip['floating_ip_address']} ({fip['id']}) "
                f"with port {port_id} using fixed IP {wanted.fixed_ip_address}, as that fixed "
                f"IP already has a floating IP on external network "
                f"{fip['floating_network_id']}.",
            )
        return wanted
    if keep:
        return _association(
            conn,
            ctx,
            fip,
            fip["fixed_port_id"],
            fip["fixed_ip_address"],
            attrs.get("router_id") or fip["router_id"],
        )
    return NONE


def _association(
    conn: Any,
    ctx: RequestContext,
    fip: Any,
    port_id: str,
    fixed_ip: str | None,
    router_id: str | None = None,
) -> Association:
    locks.for_change(conn, "ports", port_id)  # one association at a time; not deleted under it
    port = port_repo.find(conn, port_id)
    if port is None or not port_visible(conn, ctx, port):
        raise ResourceNotFound("Port", port_id)
    if port["project_id"] != fip["project_id"] and not ctx.is_admin:
        raise bad(
            f"Cannot process floating IP association with Port {port_id}, since that "
            f"port is owned by a different tenant"
        )
    if port["device_owner"] in NOT_SERVICED:
        raise bad(f"Port {port_id} is unable to be assigned a floating IP")
    subnet_id, address = _fixed_address(conn, port_id, fixed_ip)
    if router_id:
        _check_router(conn, ctx, router_id, fip["floating_network_id"])
    else:
        router_id = router_for(conn, port, subnet_id, fip["floating_network_id"])
    return Association(port_id, address, router_id)


def _check_router(conn: Any, ctx: RequestContext, router_id: str, network_id: str) -> None:
    router = router_repo.find(conn, router_id)
    if router is None or not ctx.owns(router["project_id"]):
        raise ResourceNotFound("Router", router_id)
    gateway = port_repo.find(conn, router["gw_port_id"]) if router["gw_port_id"] else None
    if gateway is None or gateway["network_id"] != network_id:
        raise NamedConflict(
            "RouterExternalGatewayNotFoundForFloatingIP",
            f"Router {router_id} has no gateway on external network {network_id}, so it "
            f"cannot serve a floating IP of that network.",
        )


def port_visible(conn: Any, ctx: RequestContext, port: Any) -> bool:
    """As the port API sees it: own ports and ports on own networks."""
    if ctx.owns(port["project_id"]):
        return True
    net = network_repo.find(conn, port["network_id"])
    return net is not None and ctx.in_project(net["project_id"])


def _fixed_address(conn: Any, port_id: str, fixed_ip: str | None) -> tuple[str, str]:
    ips = repo.fixed_ips(conn, port_id)
    if fixed_ip:
        if ipaddress.ip_address(fixed_ip).version != 4:
            raise bad(
                f"Cannot process floating IP association with {fixed_ip}, since that "
                f"is not an IPv4 address"
            )
        for subnet_id, address in ips:
            if address == fixed_ip:
                return subnet_id, address
        raise bad(f"Port {port_id} does not have fixed ip {fixed_ip}")
    v4 = [(s, a) for s, a in ips if ipaddress.ip_address(a).version == 4]
    if not v4:
        raise bad(f"Cannot add floating IP to port {port_id} that has no fixed IPv4 addresses")
    if len(v4) > 1:
        raise bad(
            f"Port {port_id} has multiple fixed IPv4 addresses.  Must provide a "
            f"specific IPv4 address when assigning a floating IP"
        )
    return v4[0]


def router_for(conn: Any, port: Any, subnet_id: str, external_network_id: str) -> str:
    candidates = repo.routers_for(conn, port["network_id"], subnet_id, external_network_id)
    if not candidates:
        raise NamedNotFound(
            "ExternalGatewayForFloatingIPNotFound",
            f"External network {external_network_id} is not reachable from subnet "
            f"{subnet_id}.  Therefore, cannot associate Port {port['id']} with a Floating IP.",
        )
    subnet = subnet_repo.find(conn, subnet_id)
    gateway = subnet["gateway_ip"] if subnet is not None else None
    for router_id, address in candidates:
        if address == gateway:
            return router_id
    return candidates[0][0]
