"""Subnet service types (extension ``subnet-service-types``): which ports take addresses from
which subnets, as Neutron decides it.

A subnet's ``service_types`` lists device owners. A port may take an address from a subnet
when the subnet has no service types, when one of them equals the port's ``device_owner``
exactly, or, for a DHCP port (``network:dhcp``), when the subnet has DHCP enabled. Subnets
with service types are tried first. When the network has subnets and none fits, the port
gets no address but a 409 (``IpAddressGenerationFailureNoMatchingSubnet``).

The values a subnet may list are neutron-lib's: each must be a string starting with
``network:`` or ``neutron:``, or with one of the *characters* of ``compute:`` (the validator
extends its list of prefixes with that string, which adds its letters one by one: so
``compute:nova`` and ``test:type_1``, which tempest uses, are accepted, and ``foo`` is not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neutrino.common.errors import NamedBadRequest, excerpt
from neutrino.domain.attributes import described

DHCP_OWNER = "network:dhcp"
PREFIXES = ("network:", "neutron:", *"compute:")
MAX_LEN = 255  # the column's width (Neutron's too)


@described(
    {
        "anyOf": [
            {"type": "array", "items": {"type": "string", "maxLength": MAX_LEN}},
            {"type": "null"},
        ]
    }
)
def service_types(value: Any) -> list[str]:
    """neutron-lib's ``type:list_of_subnet_service_types``; null is no types, and a type
    given twice is kept once."""
    if not value:
        return []
    if not isinstance(value, list):
        raise NamedBadRequest("HTTPBadRequest", "Subnet service types must be a list.")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise NamedBadRequest(
                "InvalidInputSubnetServiceType",
                f"Subnet service type {excerpt(item)} is not a string.",
            )
        if not item.startswith(PREFIXES) or len(item) > MAX_LEN or "\x00" in item:
            raise NamedBadRequest(
                "InvalidSubnetServiceType",
                f"Subnet service type {excerpt(item)} does not correspond to a valid device owner.",
            )
        if item not in out:
            out.append(item)
    return out


def serves(types: Sequence[str], dhcp: bool, device_owner: str) -> bool:
    """Whether a subnet with these service types (and DHCP flag) may address the port."""
    return not types or device_owner in types or (dhcp and device_owner == DHCP_OWNER)
