"""Neutron's default policy for the attributes it guards, in one place.

Who may call an operation at all (reader, member, admin) and who may see a resource are the
services' business (``RequestContext.require_write``, ``owns``, ``can_see``); this module owns
the rules Neutron attaches to single attributes of a request body, as its default policy
(``neutron/conf/policies``) writes them:

* **Admin-only attributes** (marked ``admin_only`` in each resource's attribute ``SPEC``, the
  one source of truth, which the OpenAPI document reads too): provider attributes,
  ``shared``, ``router:external`` and ``is_default`` of networks, port bindings
  (``binding:host_id``, ``binding:profile``); and here, a router gateway's ``enable_snat``
  and ``external_fixed_ips``, a floating IP's ``floating_ip_address`` (also a project
  manager's). Neutron checks an attribute on create only when it is given with a value other
  than its default (``shared: false`` passes), and on update whenever the body names it.
  (Attributes Neutron guards that neutrino does not accept at all, such as segments or a
  router's ``ha``, are refused as unknown before policy.)
* **Network-owner attributes of ports** (``check_port``): on a network the caller's project
  does not own (another project's shared network), only an admin may give ``mac_address``,
  ``fixed_ips`` (except entries naming only a ``subnet_id`` on create, Neutron's
  ``rule:shared``), ``port_security_enabled``, ``allowed_address_pairs``, or a
  ``device_owner`` starting with ``network:`` (Neutron's ``network_device`` rule). Changing
  ``mac_address`` needs an admin, or a ``manager`` of the network's project.
* **Router ports** (``check_router_device``): a port whose ``device_owner`` is a router
  interface owner and whose ``device_id`` is a router of another project is refused with
  Neutron's 409 ``DeviceIDNotOwnedByTenant`` (an admin may do it).

A refusal is ``PolicyNotAuthorized`` (403) naming the rules, as Neutron's message does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from neutrino.common.errors import NamedConflict, PolicyNotAuthorized
from neutrino.domain.attributes import Attr
from neutrino.domain.ipam import ROUTER_INTERFACE_OWNERS
from neutrino.service.context import RequestContext

# external_gateway_info members only an admin may give (create and update of routers)
ADMIN_ONLY_GATEWAY = ("enable_snat", "external_fixed_ips")
# Port attributes only an admin or the network's owner may give.
NET_OWNER_ONLY = ("mac_address", "port_security_enabled", "allowed_address_pairs")
NETWORK_DEVICE_PREFIX = "network:"


def check_admin_only(
    ctx: RequestContext, action: str, spec: Mapping[str, Attr], attrs: Mapping[str, Any]
) -> None:
    """403 when a non-admin gives an attribute ``spec`` marks admin-only; ``action`` is
    ``create_<resource>`` or ``update_<resource>``."""
    if ctx.is_admin:
        return
    creating = action.startswith("create_")
    for name, value in attrs.items():
        attr = spec[name]
        if attr.admin_only and not (creating and value == attr.default):
            raise _refused(action, name)


def check_router_gateway(ctx: RequestContext, action: str, attrs: Mapping[str, Any]) -> None:
    """``create_router``/``update_router``: admin-only members of ``external_gateway_info``."""
    info = attrs.get("external_gateway_info")
    if ctx.is_admin or not info:
        return
    for key in ADMIN_ONLY_GATEWAY:
        if key in info:
            raise _refused(action, f"external_gateway_info:{key}")


def check_floating_ip(ctx: RequestContext, attrs: Mapping[str, Any]) -> None:
    """``create_floatingip:floating_ip_address``: an admin, or a manager of the project."""
    if attrs.get("floating_ip_address") and not (ctx.is_admin or "manager" in ctx.roles):
        raise _refused("create_floatingip", "floating_ip_address")


def check_port(
    ctx: RequestContext,
    action: str,
    attrs: Mapping[str, Any],
    *,
    network_project: str,
    network_shared: bool,
) -> None:
    """The attribute rules of ``create_port``/``update_port`` that depend on who owns the
    port's network (the admin-only ones are ``check_admin_only``'s)."""
    if ctx.is_admin:
        return
    net_owner = ctx.in_project(network_project)
    owner = attrs.get("device_owner")
    if isinstance(owner, str) and owner.startswith(NETWORK_DEVICE_PREFIX) and not net_owner:
        raise _refused(action, "device_owner")
    if (
        action == "update_port"
        and "mac_address" in attrs
        and not (net_owner and "manager" in ctx.roles)
    ):
        raise _refused(action, "mac_address")
    if net_owner:
        return
    for name in NET_OWNER_ONLY:
        if name in attrs:
            raise _refused(action, name)
    if "fixed_ips" in attrs:
        if action == "update_port" or not network_shared:
            raise _refused(action, "fixed_ips")
        if any("ip_address" in entry for entry in attrs["fixed_ips"]):
            raise _refused(action, "fixed_ips", "fixed_ips:ip_address")


def check_router_device(
    ctx: RequestContext,
    device_owner: str,
    device_id: str,
    port_project: str,
    router_project: str | None,
) -> None:
    """Neutron's ``_enforce_device_owner_not_router_intf_or_device_id``: a router interface
    port may not name another project's router (``router_project`` None: no such router)."""
    if ctx.is_admin or device_owner not in ROUTER_INTERFACE_OWNERS or not device_id:
        return
    if router_project is not None and router_project != port_project:
        raise NamedConflict(
            "DeviceIDNotOwnedByTenant",
            f"The following device_id {device_id} is not owned by your "
            f"tenant or matches another tenants router.",
        )


def _refused(action: str, *names: str) -> PolicyNotAuthorized:
    rules = " and ".join([f"rule:{action}", *(f"rule:{action}:{n}" for n in names)])
    return PolicyNotAuthorized(rules)
