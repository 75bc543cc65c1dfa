"""Flavor and service-profile request attributes (extension ``flavors``), the service types a
flavor may name, the drivers a profile may name, and the errors, with Neutron's converters
and messages (neutron-lib's ``flavors`` API definition and exceptions).

- ``service_type`` must be a service plugin this server has (Neutron's
  ``type:service_plugin_type`` asks its plugin directory): ``InvalidServiceType`` (400).
- A profile's ``driver`` is empty or a provider's driver: neutrino's router providers
  (``service.service_providers``) answer to the driver paths Neutron gives the same
  providers, so a profile written for Neutron works unchanged; any other driver is
  ``ServiceProfileDriverNotFound`` (404), as Neutron answers for a driver no provider has.
- ``service_profiles`` in a flavor's body is validated (a list of distinct UUIDs) and then
  ignored, as Neutron does: profiles are bound through ``/flavors/{id}/service_profiles``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from neutrino.common.errors import (
    NamedBadRequest,
    NamedConflict,
    NamedNotFound,
    NamedServiceUnavailable,
    ResourceNotFound,
    excerpt,
)
from neutrino.domain.attributes import (
    Attr,
    Invalid,
    described,
    nullable,
    string,
    to_bool,
    uuid,
)
from neutrino.service.service_providers import DRIVERS

# The service plugins whose APIs neutrino serves, by Neutron's plugin type (its plugin
# directory's keys): the core plugin, routers, flavors themselves, QoS, trunks, segments,
# floating-IP port forwardings and IP availability.
SERVICE_PLUGINS = frozenset(
    {
        "CORE",
        "L3_ROUTER_NAT",
        "FLAVORS",
        "QOS",
        "trunk",
        "segments",
        "PORTFORWARDING",
        "network-ip-availability",
    }
)
L3 = "L3_ROUTER_NAT"


def _printable(char: str) -> bool:
    """neutron-lib's printable: no control/format/unassigned character, no line or paragraph
    separator (horizontal spaces are printable); only the Basic Multilingual Plane."""
    category = unicodedata.category(char)
    return (
        ord(char) < 0xFFFF
        and not category.startswith("C")
        and (not category.startswith("Z") or category == "Zs")
    )


def name_string(max_len: int) -> Any:
    """Neutron's ``type:name_string``: a string of printable characters, not starting or
    ending with a space (empty allowed)."""
    base = string(max_len)

    def convert(value: Any) -> str:
        text: str = base(value)
        if text and (
            not all(_printable(c) for c in text)
            or unicodedata.category(text[0]) == "Zs"
            or unicodedata.category(text[-1]) == "Zs"
        ):
            raise Invalid(f"'{excerpt(text)}' is not a valid string")
        return text

    return described({"type": "string", "maxLength": max_len})(convert)


@described({"enum": sorted(SERVICE_PLUGINS)})
def service_type(value: Any) -> str:
    if not isinstance(value, str) or value not in SERVICE_PLUGINS:
        raise NamedBadRequest("InvalidServiceType", f"Invalid service type: {excerpt(value)}.")
    return value


@described({"type": "array", "items": {"type": "string", "format": "uuid"}, "uniqueItems": True})
def uuid_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Invalid(f"'{excerpt(value)}' is not a list")
    seen: set[str] = set()
    dups = []
    for item in value:
        key = str(item)
        if key in seen and key not in dups:
            dups.append(key)
        seen.add(key)
    if dups:
        raise Invalid(f"Duplicate items in the list: '{excerpt(', '.join(dups))}'")
    return [uuid(item) for item in value]


FLAVOR_SPEC: dict[str, Attr] = {
    "name": Attr(name_string(255)),
    "description": Attr(nullable(string(1024))),
    "service_type": Attr(service_type, allow_put=False, required=True),
    "service_profiles": Attr(uuid_list),
    "enabled": Attr(to_bool),
}
PROFILE_SPEC: dict[str, Attr] = {
    "description": Attr(nullable(string(1024))),
    "driver": Attr(string(1024)),
    "metainfo": Attr(nullable(string(4096))),
    "enabled": Attr(to_bool),
}
BINDING_SPEC: dict[str, Attr] = {"id": Attr(uuid, required=True)}


def check_driver(driver: str) -> str:
    """The provider a non-empty driver names (404 when none has it)."""
    provider = DRIVERS.get(driver)
    if provider is None:
        raise NamedNotFound(
            "ServiceProfileDriverNotFound",
            f"Service Profile driver {excerpt(driver)} could not be found.",
        )
    return provider


# --- errors -----------------------------------------------------------------------------


def flavor_not_found(flavor_id: str) -> ResourceNotFound:
    return ResourceNotFound("Flavor", flavor_id)


def profile_not_found(profile_id: str) -> ResourceNotFound:
    return ResourceNotFound("Service Profile", profile_id)


def flavor_in_use(flavor_id: str) -> NamedConflict:
    return NamedConflict("FlavorInUse", f"Flavor {flavor_id} is used by some service instance.")


def profile_in_use(profile_id: str) -> NamedConflict:
    return NamedConflict(
        "ServiceProfileInUse", f"Service Profile {profile_id} is used by some service instance."
    )


def binding_exists(profile_id: str, flavor_id: str) -> NamedConflict:
    return NamedConflict(
        "FlavorServiceProfileBindingExists",
        f"Service Profile {profile_id} is already associated with flavor {flavor_id}.",
    )


def binding_not_found(profile_id: str, flavor_id: str) -> NamedNotFound:
    return NamedNotFound(
        "FlavorServiceProfileBindingNotFound",
        f"Service Profile {excerpt(profile_id)} is not associated with flavor "
        f"{excerpt(flavor_id)}.",
    )


def profile_empty() -> NamedBadRequest:
    return NamedBadRequest(
        "ServiceProfileEmpty", "Service Profile needs either a driver or metainfo."
    )


def flavor_disabled() -> NamedServiceUnavailable:
    return NamedServiceUnavailable("FlavorDisabled", "Flavor is not enabled.")


def profile_disabled() -> NamedServiceUnavailable:
    return NamedServiceUnavailable("ServiceProfileDisabled", "Service Profile is not enabled.")
