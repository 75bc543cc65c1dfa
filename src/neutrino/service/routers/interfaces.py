"""Router interfaces: attaching a router to a subnet, by subnet or by an existing port.

Owns the bodies of the ``add_router_interface`` and ``remove_router_interface`` transactions;
the facade checks policy and the body's keys, then runs :func:`add_tx` or :func:`remove_tx`.

Adding, as Neutron's l3_db does it:
- *by subnet*: the subnet must be visible, have a gateway IP, belong to the caller's project and
  not be an IPv6 subnet that takes RAs from an outside router; a new
  ``network:router_interface`` port takes the gateway IP, except that a second IPv6 subnet on a
  network the router already has an IPv6 interface on joins that port instead;
- *by port*: the caller's port, not bound to any device, with at least one fixed IP and at most
  one IPv4 subnet, is taken over by the router.
Either way :func:`.topology.check_overlap` runs first, and the port is linked to the router and
the router's revision bumped in the same transaction.

Removing by port or by subnet (or both, which must agree) drops the subnet's IP from the port
and deletes the port once it has none; an interface an extra route or a floating IP
(:mod:`.fip_rules`) needs cannot be removed.

Locks (PostgreSQL, ``store.locks``): both transactions lock the router row first, before
reading its interfaces: of two adds of one subnet the second sees the first's interface
(400), of two removes the second finds none (404). A new interface port locks its network
(:mod:`.ports`); an existing port taken over is locked (``for_change``) before it is checked,
so two routers cannot both take it and a port delete cannot pass under it.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import NamedBadRequest, NamedConflict, NamedNotFound, ResourceNotFound
from neutrino.service import ipam, l3_scheduler, rbac
from neutrino.service.context import RequestContext
from neutrino.service.routers.errors import NotFoundRouterInterface, bad
from neutrino.service.routers.fip_rules import check_interface_unused
from neutrino.service.routers.ports import RouterPorts
from neutrino.service.routers.records import bump, load
from neutrino.service.routers.routes import check_not_needed_by_routes
from neutrino.service.routers.topology import check_overlap
from neutrino.service.routers.views import interface_info
from neutrino.store import locks
from neutrino.store import ports as port_repo
from neutrino.store import routers as repo
from neutrino.store import subnets as subnet_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx

INTERFACE = repo.INTERFACE


def add_tx(
    tx: Tx,
    ctx: RequestContext,
    ports: RouterPorts,
    router_id: str,
    port_id: str | None,
    subnet_id: str | None,
) -> dict[str, Any]:
    router = load(tx.conn, ctx, router_id, for_update=True)
    if port_id is not None:
        result = _add_by_port(tx, ctx, router, port_id)
    else:
        assert subnet_id is not None
        result = _add_by_subnet(tx, ctx, ports, router, subnet_id)
    l3_scheduler.sync_router(tx, router_id, ha=ports.ha)  # schedule it, bind its new port
    bump(tx, router_id)
    return result


def _add_by_port(tx: Tx, ctx: RequestContext, router: Any, port_id: str) -> dict[str, Any]:
    conn = tx.conn
    locks.for_change(conn, "ports", port_id)  # not taken by another router, nor deleted
    port = port_repo.find(conn, port_id)
    if port is None or not ctx.owns(port["project_id"]):
        raise ResourceNotFound("Port", port_id)
    if port["device_id"]:
        raise NamedConflict(
            "PortInUse",
            f"Unable to complete operation on port {port_id} "
            f"for network {port['network_id']}. Port already has an "
            f"attached device {port['device_id']}.",
        )
    ips = repo.fixed_ips(conn, [port_id]).get(port_id, [])
    if not ips:
        raise bad("Router port must have at least one fixed IP")
    subnets = [subnet_repo.find(conn, s) for s, _ in ips]
    found = [s for s in subnets if s is not None]
    check_overlap(conn, router["id"], found)
    if len([s for s in found if s["ip_version"] == 4]) > 1:
        raise bad("Cannot have multiple IPv4 subnets on router port")
    owner = {"device_id": router["id"], "device_owner": INTERFACE}
    tx.updated(Resource.PORT, port_id, {**owner, "system_owned": True})  # the router's now
    repo.attach_port(conn, router["id"], port_id, INTERFACE)
    subnet_ids = [s for s, _ in ips]
    return interface_info(router["id"], port, subnet_ids[-1], subnet_ids)


def _add_by_subnet(
    tx: Tx, ctx: RequestContext, ports: RouterPorts, router: Any, subnet_id: str
) -> dict[str, Any]:
    conn = tx.conn
    subnet = subnet_repo.find(conn, subnet_id)
    if subnet is None or not (
        ctx.owns(subnet["network_project_id"])
        or ctx.can_see(
            subnet["project_id"],
            public=rbac.access(conn, ctx, subnet["network_id"], subnet["network_shared"])[0],
        )
    ):
        raise ResourceNotFound("Subnet", subnet_id)
    if not subnet["gateway_ip"]:
        raise bad("Subnet for router interface must have a gateway IP")
    if not ctx.owns(subnet["project_id"]):
        raise bad(
            f"Cannot add interface to router because subnet {subnet_id} is not "
            f"owned by project making the request"
        )
    if (
        subnet["ip_version"] == 6
        and subnet["ipv6_ra_mode"] is None
        and subnet["ipv6_address_mode"] is not None
    ):
        raise bad(
            f"IPv6 subnet {subnet_id} configured to receive RAs from an external "
            f"router cannot be added to Neutron Router"
        )
    check_overlap(conn, router["id"], [subnet])
    fixed = {"subnet_id": subnet_id, "ip_address": subnet["gateway_ip"]}
    if subnet["ip_version"] == 6:
        existing = _ipv6_interface_on(conn, router["id"], subnet["network_id"])
        if existing is not None:
            current = [
                {"subnet_id": s, "ip_address": a}
                for s, a in repo.fixed_ips(conn, [existing["id"]]).get(existing["id"], [])
            ]
            ipam.reallocate(
                tx,
                existing["network_id"],
                existing["id"],
                current,
                [*current, fixed],
                existing["mac_address"],
                device_owner=INTERFACE,
                window=ports.window,
            )
            tx.updated(Resource.PORT, existing["id"])
            return interface_info(router["id"], existing, subnet_id, [subnet_id])
    port_id, _ = ports.create(
        tx, subnet["network_id"], router["project_id"], router["id"], INTERFACE, [fixed]
    )
    port = port_repo.get(conn, port_id)
    return interface_info(router["id"], port, subnet_id, [subnet_id])


def _ipv6_interface_on(conn: Any, router_id: str, network_id: str) -> Any:
    for a in repo.attached_subnets(conn, router_id, INTERFACE):
        if a["network_id"] == network_id and a["ip_version"] == 6:
            return port_repo.get(conn, a["port_id"])
    return None


def remove_tx(
    tx: Tx,
    ctx: RequestContext,
    ports: RouterPorts,
    router_id: str,
    port_id: str | None,
    subnet_id: str | None,
) -> dict[str, Any]:
    conn = tx.conn
    router = load(conn, ctx, router_id, for_update=True)
    interfaces = set(repo.port_ids(conn, router_id, INTERFACE))
    if port_id is not None:
        port = port_repo.find(conn, port_id)
        if port is None or port_id not in interfaces:
            raise NotFoundRouterInterface(router_id, port_id)
        ips = repo.fixed_ips(conn, [port_id]).get(port_id, [])
        subnet_ids = [s for s, _ in ips]
        if subnet_id is not None and subnet_id not in subnet_ids:
            raise NamedBadRequest(
                "SubnetMismatchForPort",
                f"Subnet on port {port_id} does not match the requested subnet {subnet_id}",
            )
        removed = [subnet_id] if subnet_id is not None else subnet_ids
    else:
        assert subnet_id is not None
        if subnet_repo.find(conn, subnet_id) is None:
            raise ResourceNotFound("Subnet", subnet_id)
        holder = next(
            (
                a
                for a in repo.attached_subnets(conn, router_id, INTERFACE)
                if a["subnet_id"] == subnet_id
            ),
            None,
        )
        if holder is None:
            raise NamedNotFound(
                "RouterInterfaceNotFoundForSubnet",
                f"Router {router_id} has no interface on subnet {subnet_id}",
            )
        port = port_repo.get(conn, holder["port_id"])
        ips = repo.fixed_ips(conn, [port["id"]]).get(port["id"], [])
        removed = [subnet_id]
    check_interface_unused(conn, router_id, removed)
    check_not_needed_by_routes(conn, router_id, removed)
    remaining = [{"subnet_id": s, "ip_address": a} for s, a in ips if s not in removed]
    if remaining:
        current = [{"subnet_id": s, "ip_address": a} for s, a in ips]
        ipam.reallocate(
            tx,
            port["network_id"],
            port["id"],
            current,
            remaining,
            port["mac_address"],
            device_owner=INTERFACE,
            window=ports.window,
        )
        tx.updated(Resource.PORT, port["id"])
    else:
        ports.delete(tx, port)
    l3_scheduler.sync_router(tx, router_id, ha=ports.ha)  # unschedule it if left without ports
    bump(tx, router["id"])
    return interface_info(router_id, port, removed[0], removed)
