"""Port request attributes: the spec, the validation of the structured ones (fixed_ips,
allowed_address_pairs, extra_dhcp_opts, binding:profile) and the rules tying port security to
security groups and address pairs."""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.common.errors import BadRequest, NamedBadRequest, NamedConflict
from neutrino.domain import dns
from neutrino.domain.attributes import (
    STANDARD,
    Attr,
    Invalid,
    described,
    dict_value,
    ip_address,
    list_of,
    mac,
    nullable,
    nullable_objects,
    one_of,
    schema_of,
    string,
    tag_list,
    to_bool,
    uuid,
)

# Neutron's PORT_NUMA_POLICIES ("socket" from port-numa-affinity-policy-socket); null: none
NUMA_AFFINITY_POLICIES = ("required", "preferred", "legacy", "socket")
VNIC_TYPES = (
    "normal",
    "direct",
    "macvtap",
    "baremetal",
    "direct-physical",
    "virtio-forwarder",
    "smart-nic",
    "vdpa",
    "remote-managed",
)
FIXED_IP_KEYS = frozenset({"subnet_id", "ip_address"})


@described(
    {
        "type": "array",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "subnet_id": {"type": "string", "format": "uuid"},
                "ip_address": schema_of(ip_address),
            },
        },
    }
)
def fixed_ips(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise Invalid(f"'{value}' is not a list")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise Invalid(f"'{item}' is not a dictionary")
        unknown = set(item) - FIXED_IP_KEYS
        if unknown:
            raise Invalid(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
        entry: dict[str, str] = {}
        if "subnet_id" in item:
            entry["subnet_id"] = uuid(item["subnet_id"])
        if "ip_address" in item:
            entry["ip_address"] = ip_address(item["ip_address"])
        out.append(entry)
    return out


@described(
    nullable_objects(
        ["ip_address"],
        {"ip_address": {"type": "string"}, "mac_address": {"type": ["string", "null"]}},
    )
)
def address_pairs(value: Any) -> list[dict[str, str | None]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"'{value}' is not a list")
    out: list[dict[str, str | None]] = []
    seen = set()
    for item in value:
        if not isinstance(item, dict) or "ip_address" not in item:
            raise NamedBadRequest(
                "AllowedAddressPairsMissingIP", "AllowedAddressPair must contain ip_address"
            )
        unknown = set(item) - {"ip_address", "mac_address"}
        if unknown:
            raise Invalid(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
        raw = item["ip_address"]
        try:
            ip = (
                str(ipaddress.ip_network(raw, strict=False))
                if "/" in str(raw)
                else str(ipaddress.ip_address(raw))
            )
        except ValueError:
            raise Invalid(f"'{raw}' is not a valid IP address") from None
        _not_multicast(ip)
        pair_mac = mac(item["mac_address"]) if item.get("mac_address") else None  # unicast
        key = (ip, pair_mac)
        if key in seen:
            raise NamedBadRequest(
                "DuplicateAddressPairInRequest",
                f"Request contains duplicate address pair: mac_address {pair_mac} ip_address {ip}.",
            )
        seen.add(key)
        out.append({"ip_address": ip, "mac_address": pair_mac})
    return out


_MULTICAST = {4: ipaddress.ip_network("224.0.0.0/4"), 6: ipaddress.ip_network("ff00::/8")}


def _not_multicast(ip: str) -> None:
    """Neutron's ``aap-reject-multicast``: no multicast address, and no prefix overlapping the
    multicast range (``0.0.0.0/0`` aside, as Neutron's check has it; ``::/0`` is refused)."""
    net = ipaddress.ip_network(ip)
    if "/" not in ip:
        if net.network_address.is_multicast:
            raise Invalid(f"IP {ip} is a multicast address, which is not supported.")
        return
    mcast = _MULTICAST[net.version]
    if str(net) != "0.0.0.0/0" and net.overlaps(mcast):
        raise Invalid(f"Subnet {ip} overlaps with multicast range {mcast}, which is not supported.")


@described(
    nullable_objects(
        ["opt_name"],
        {
            "opt_name": {"type": "string", "maxLength": 64},
            "opt_value": {"type": ["string", "null"], "maxLength": 255},
            "ip_version": {"enum": [4, 6]},
        },
    )
)
def dhcp_opts(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"'{value}' is not a list")
    out = []
    for item in value:
        if not isinstance(item, dict) or "opt_name" not in item:
            raise Invalid(f"'{item}' is not a valid extra DHCP option")
        unknown = set(item) - {"opt_name", "opt_value", "ip_version"}
        if unknown:
            raise Invalid(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
        version = int(item.get("ip_version") or 4)
        if version not in (4, 6):
            raise Invalid(f"'{version}' is not in [4, 6]")
        name = string(64)(item["opt_name"])
        opt_value = item.get("opt_value")
        out.append(
            {
                "opt_name": name,
                "opt_value": None if opt_value is None else string(255)(str(opt_value)),
                "ip_version": version,
            }
        )
    return out


@described({"anyOf": [{"type": "object"}, {"type": "null"}]})
def binding_profile(value: Any) -> dict[str, Any]:
    return dict_value(value)


SPEC: dict[str, Attr] = {
    **STANDARD,
    "network_id": Attr(uuid, allow_put=False, required=True),
    "admin_state_up": Attr(to_bool),
    "mac_address": Attr(nullable(mac)),  # null: a new one (port-mac-address-regenerate)
    "fixed_ips": Attr(fixed_ips),
    "device_id": Attr(string(255)),
    "device_owner": Attr(string(255)),
    "security_groups": Attr(nullable(list_of(uuid))),
    "port_security_enabled": Attr(to_bool),
    "binding:host_id": Attr(nullable(string(255)), admin_only=True),
    "binding:profile": Attr(binding_profile, admin_only=True),
    "binding:vnic_type": Attr(one_of(*VNIC_TYPES)),
    "allowed_address_pairs": Attr(address_pairs),
    "extra_dhcp_opts": Attr(dhcp_opts),
    "dns_name": Attr(dns.dns_name),  # dns-integration
    "dns_domain": Attr(dns.dns_domain),  # dns-domain-ports
    "qos_policy_id": Attr(nullable(uuid)),
    # port-numa-affinity-policy with its -socket addition; port-device-profile (create only)
    "numa_affinity_policy": Attr(one_of(*NUMA_AFFINITY_POLICIES, None)),
    "device_profile": Attr(nullable(string(255)), allow_put=False),
    "tags": Attr(tag_list, allow_put=False),
    "status": Attr(string(16), allow_post=False),
}


def check_numa_policy_unbound(row: Any, policy: str | None) -> None:
    """Neutron's ML2 changes a port's NUMA affinity policy only while the port is not bound
    (its binding as it stands before this update): else 409 ``PortBoundNUMAAffinityPolicy``."""
    if row["binding_vif_type"] not in ("unbound", "binding_failed"):
        raise NamedConflict(
            "PortBoundNUMAAffinityPolicy",
            f"Unable to complete operation on port {row['id']}, port is already bound to host "
            f"{row['binding_host_id']}, numa_affinity_policy value given {policy}.",
        )


def check_no_nulls(attrs: dict[str, Any]) -> None:
    for key in ("name", "device_id", "device_owner"):
        if key in attrs and attrs[key] is None:
            raise BadRequest(f"Invalid input for {key}. Reason: 'None' is not a valid string")


def check_port_security(enabled: bool, groups: list[str], pairs: list[Any]) -> None:
    if enabled:
        return
    if groups:
        raise NamedConflict(
            "PortSecurityAndIPRequiredForSecurityGroups",
            "Port security must be enabled and port must have an IP address "
            "in order to use security groups.",
        )
    if pairs:
        raise NamedConflict(
            "AddressPairAndPortSecurityRequired",
            "Port Security must be enabled in order to have allowed address pairs on a port.",
        )


def pairs_with_mac(pairs: list[dict[str, Any]], mac: str) -> list[dict[str, str]]:
    return [
        {"ip_address": p["ip_address"], "mac_address": p.get("mac_address") or mac} for p in pairs
    ]
