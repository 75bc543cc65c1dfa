"""Routers: create, show, list, update, delete; interfaces (add/remove by subnet or by port),
the external gateway (``ext-gw-mode``) and extra routes (``extraroute``, ``extraroute-atomic``).

A router's ports are ordinary ports on its networks: an interface is a
``network:router_interface`` port holding the subnet's gateway IP, the gateway is a
``network:router_gateway`` port (project ``''``, as Neutron) on an external network. Each port
is created, allocated and linked to the router (``router_ports``) in the same transaction as
the router's revision bump and the change-log entries, so a failed attach leaves nothing.

Invariants, as Neutron's l3_db keeps them, and the module that keeps each:
- a router never has two interfaces on one subnet nor on overlapping CIDRs (the gateway's
  network's subnets count too) — :mod:`.topology`;
- a router with interfaces cannot be deleted (409 ``RouterInUse``); its gateway port goes with
  it — :mod:`.service`;
- every extra route's next hop lies in a subnet the router is connected to and is not one of
  the router's own addresses; an interface a route needs cannot be removed — :mod:`.routes`.

Policy (Neutron's defaults): routers are project-scoped; admins see and change all; members
write their own project's routers; readers only read. Setting ``enable_snat`` or
``external_fixed_ips`` of the gateway is admin-only (:mod:`.attributes`).

The package, imports pointing one way (a module imports only from those listed below it,
and :mod:`.interfaces` from :mod:`.routes`):

- :mod:`.service` — ``RouterService``, the facade the API calls: policy, parsing, transactions;
- :mod:`.interfaces`, :mod:`.gateway`, :mod:`.routes` — the body of each kind of change;
- :mod:`.topology` — what the router is connected to, and the overlap rule;
- :mod:`.ports` — creating and deleting the router's own ports;
- :mod:`.records`, :mod:`.views` — loading/bumping the router row; the wire shape;
- :mod:`.attributes`, :mod:`.errors` — request validation; Neutron-named errors.

Floating IPs live here too, beside the routers that NAT them (a module imports only from
those listed below it):

- :mod:`.floatingips` — ``FloatingIpService``: floating IPs and their pools;
- :mod:`.fip_assoc` — which port, fixed address and router an association means;
- :mod:`.fip_views` — the wire shape (``port_details``, pools);
- :mod:`.fip_rules` — what floating IPs forbid elsewhere (removing the interface or gateway
  they need, deleting their port) and the disassociation when a port goes; used by
  :mod:`.interfaces`, :mod:`.gateway` and the port service.
"""

from neutrino.service.routers.service import RouterService

__all__ = ["RouterService"]
