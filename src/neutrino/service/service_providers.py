"""``GET /v2.0/service-providers`` (extension ``service-type``): the drivers behind the
advanced services, as Neutron lists them. neutrino's are its routers (``L3_ROUTER_NAT``): in a
namespace on one network node (``single_node``, the default), or with ``ha`` on several, one
of them master by VRRP (``ha``, docs/l3-ha.md). Any caller
holding a role may list them (Neutron's ``regular_user``); they have no id, so the list
filters and sorts but does not page by marker.
"""

from __future__ import annotations

from typing import Any

from neutrino.domain.listing import ListQuery, in_memory
from neutrino.service.context import RequestContext

KEYS = ("service_type", "name", "default")
PROVIDERS = (
    {"service_type": "L3_ROUTER_NAT", "name": "single_node", "default": True},
    {"service_type": "L3_ROUTER_NAT", "name": "ha", "default": False},
)
# driver -> provider name: what a service profile's ``driver`` may name (``service.flavors``).
# Neutron does not show drivers in this list; its L3 providers of the same names have these
# driver paths, so a profile written for Neutron names neutrino's provider unchanged.
_NEUTRON_L3 = "neutron.services.l3_router.service_providers."
DRIVERS = {
    _NEUTRON_L3 + "single_node.SingleNodeDriver": "single_node",
    _NEUTRON_L3 + "ha.HaDriver": "ha",
}


class ServiceProviderService:
    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        found = in_memory([dict(p) for p in PROVIDERS], query, KEYS, "Service providers")
        return found if ctx.roles else []
