"""What floating IPs forbid or change elsewhere: the rules other writes must keep once a
floating IP hangs on a router or a port.

Owns, as Neutron's l3_db does:
- :func:`check_interface_unused`: a router interface whose subnet holds the fixed address of a
  floating IP NATed by that router cannot be removed (409 ``RouterInterfaceInUseByFloatingIP``);
- :func:`check_gateway_unused`: a router's gateway cannot be cleared or moved to another
  network while floating IPs go through it (409 ``RouterExternalGatewayInUseByFloatingIp``);
- :func:`before_port_delete`: a floating IP's own port is deleted only with its floating IP
  (409 ``L3PortInUse`` through the port API); deleting a port a floating IP is associated with
  disassociates it (Neutron's ``disassociate_floatingips``), in the same transaction;
- :func:`delete_disassociated`: deleting an external network first deletes its floating IPs
  that are not associated (Neutron's ``delete_disassociated_floatingips``); associated ones
  keep their port, so the network stays in use (409 ``NetworkInUse``).

Every function runs inside the caller's transaction; the changes it makes are recorded there
with the floating network's id, so watchers of that network wake.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.common.errors import NamedConflict
from neutrino.service import ipam
from neutrino.store import floatingips as repo
from neutrino.store import ports as port_repo
from neutrino.store import subnets as subnet_repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx


def check_interface_unused(conn: Any, router_id: str, subnet_ids: list[str]) -> None:
    fips = [f for f in repo.on_router(conn, router_id) if f["fixed_ip_address"]]
    if not fips:
        return
    for subnet_id in subnet_ids:
        subnet = subnet_repo.find(conn, subnet_id)
        if subnet is None:
            continue
        cidr = ipaddress.ip_network(subnet["cidr"])
        if any(ipaddress.ip_address(f["fixed_ip_address"]) in cidr for f in fips):
            raise NamedConflict(
                "RouterInterfaceInUseByFloatingIP",
                f"Router interface for subnet {subnet_id} on router {router_id} cannot be "
                f"deleted, as it is required by one or more floating IPs.",
            )


def check_gateway_unused(conn: Any, router_id: str, network_id: str) -> None:
    if repo.on_router(conn, router_id):
        raise NamedConflict(
            "RouterExternalGatewayInUseByFloatingIp",
            f"Gateway cannot be updated for router {router_id}, since a gateway to external "
            f"network {network_id} is required by one or more floating IPs.",
        )


def before_port_delete(tx: Tx, port: Any) -> None:
    """Refuse to delete a floating IP's own port; disassociate the port's floating IPs."""
    if (
        port["device_owner"] == repo.DEVICE_OWNER
        and repo.of_floating_port(tx.conn, port["id"]) is not None
    ):
        raise NamedConflict(
            "L3PortInUse",
            f"Port {port['id']} has owner "
            f"{port['device_owner']} and therefore cannot be deleted "
            f"directly via the port API.",
        )
    for fip in repo.on_fixed_port(tx.conn, port["id"]):
        disassociate(tx, fip)


def disassociate(tx: Tx, fip: Any) -> None:
    gone = {"fixed_port_id": None, "fixed_ip_address": None, "router_id": None}
    tx.updated(Resource.FLOATINGIP, fip["id"], {**gone, "status": "DOWN"})


def delete_disassociated(tx: Tx, network_id: str) -> None:
    for fip in repo.on_network(tx.conn, network_id):
        if fip["fixed_port_id"] is None and fip["router_id"] is None:
            delete(tx, fip)


def delete(tx: Tx, fip: Any) -> None:
    """Delete a floating IP row and its own port (releasing the address)."""
    conn = tx.conn
    tx.deleted(Resource.FLOATINGIP, fip)
    repo.delete_row(conn, fip["id"])
    tag_repo.delete_all(conn, fip["id"])
    port = port_repo.find(conn, fip["floating_port_id"])
    if port is not None:
        tx.deleted(Resource.PORT, port)
        ipam.release(tx, port["id"])
        port_repo.delete_row(conn, port["id"])
        tag_repo.delete_all(conn, port["id"])
