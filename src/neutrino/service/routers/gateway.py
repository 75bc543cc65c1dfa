"""The router's external gateway (``ext-gw-mode``).

Owns :func:`set_gateway`, which makes a router's gateway match the requested
``external_gateway_info`` inside the caller's transaction and says whether anything changed.

Invariants:
- the gateway is at most one ``network:router_gateway`` port, owned by project ``''`` as in
  Neutron, on a network with ``router:external``; the router row's ``gw_port_id`` names it;
- the network must be visible to the caller (owned, shared or external), else 404 ``Network``;
- asking again for the same network and the same fixed IPs is not a change (only
  ``enable_snat`` may then differ); any other change replaces the port: the old one is deleted
  before the new one's subnets are checked for overlap and its IPs allocated;
- a gateway on an external network without subnets gets a port without IPs, as in Neutron
  (the agent then plugs it without NAT or floating IPs); where subnets exist, IPAM's errors
  (no free address: 409) fail the whole request, leaving nothing behind;
- a gateway floating IPs go through cannot be cleared or moved to another network (409,
  :mod:`.fip_rules`).
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import ResourceNotFound
from neutrino.service import rbac
from neutrino.service.context import RequestContext
from neutrino.service.routers.errors import bad
from neutrino.service.routers.fip_rules import check_gateway_unused
from neutrino.service.routers.ports import RouterPorts
from neutrino.service.routers.topology import check_overlap
from neutrino.store import networks as network_repo
from neutrino.store import ports as port_repo
from neutrino.store import routers as repo
from neutrino.store import subnets as subnet_repo
from neutrino.store.uow import Tx


def set_gateway(
    tx: Tx, ctx: RequestContext, ports: RouterPorts, router: Any, info: dict[str, Any] | None
) -> bool:
    """Make the router's gateway match ``info`` (None: no gateway); True if it changed."""
    conn = tx.conn
    current = port_repo.find(conn, router["gw_port_id"]) if router["gw_port_id"] else None
    if not info:
        if current is None:
            return False
        check_gateway_unused(conn, router["id"], current["network_id"])
        ports.delete(tx, current)
        repo.update_row(conn, router["id"], {"gw_port_id": None})
        return True
    network_id = info["network_id"]
    net = network_repo.find(conn, network_id)
    if net is None or not ctx.can_see(
        net["project_id"], public=rbac.network_visible(conn, ctx, net)
    ):
        raise ResourceNotFound("Network", network_id)
    if not net["router_external"]:
        raise bad(f"Network {network_id} is not an external network")
    snat = info.get("enable_snat", True)
    requested = info.get("external_fixed_ips")
    if current is not None and current["network_id"] == network_id:
        ips = [
            {"subnet_id": s, "ip_address": a}
            for s, a in repo.fixed_ips(conn, [current["id"]]).get(current["id"], [])
        ]
        same_ips = requested is None or (
            len(requested) == len(ips)
            and all(any(all(i[k] == r[k] for k in r) for i in ips) for r in requested)
        )
        if same_ips:
            if snat == router["enable_snat"]:
                return False
            repo.update_row(conn, router["id"], {"enable_snat": snat})
            return True
    if current is not None:
        if current["network_id"] != network_id:
            check_gateway_unused(conn, router["id"], current["network_id"])
        ports.delete(tx, current)
        repo.update_row(conn, router["id"], {"gw_port_id": None})
    check_overlap(conn, router["id"], subnet_repo.on_network(conn, network_id), gateway=True)
    port_id = ports.create(tx, network_id, "", router["id"], repo.GATEWAY, requested)[0]
    repo.update_row(conn, router["id"], {"gw_port_id": port_id, "enable_snat": snat})
    return True
