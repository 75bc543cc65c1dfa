"""The list filters and sort keys of every Neutron collection, described for the outside world.

Each repository declares what its list accepts (``COLUMNS``: an attribute backed by a column,
filterable and sortable; ``HOOKS``: a filter compiled by a function, such as ``tags`` or
``fixed_ips``). This module only reads those tables and says, for each collection, which names
exist and what JSON type a value has, taken from the column's own type: the published OpenAPI
document (``api/openapi.py``) is built from it, so a new filter is documented the moment a
repository accepts it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from neutrino.store import (
    address_groups,
    agents,
    flavors,
    floatingips,
    networks,
    ports,
    qos,
    rbac,
    routers,
    security_groups,
    segment_ranges,
    segments,
    subnetpools,
    subnets,
    trunks,
)
from neutrino.store.query import Column

_LISTS: dict[str, tuple[Mapping[str, Column], Mapping[str, Any]]] = {
    "ports": (ports.COLUMNS, ports.HOOKS),
    "networks": (networks.COLUMNS, networks.HOOKS),
    "subnets": (subnets.COLUMNS, subnets.HOOKS),
    "security-groups": (security_groups.GROUP_COLUMNS, security_groups.GROUP_HOOKS),
    "security-group-rules": (security_groups.RULE_COLUMNS, security_groups.RULE_HOOKS),
    "default-security-group-rules": (
        security_groups.TEMPLATE_COLUMNS,
        security_groups.TEMPLATE_HOOKS,
    ),
    "routers": (routers.COLUMNS, routers.HOOKS),
    "floatingips": (floatingips.COLUMNS, floatingips.HOOKS),
    "agents": (agents.COLUMNS, {}),
    "rbac-policies": (rbac.COLUMNS, rbac.HOOKS),
    "subnetpools": (subnetpools.COLUMNS, subnetpools.HOOKS),
    "address-scopes": (subnetpools.SCOPE_COLUMNS, subnetpools.SCOPE_HOOKS),
    "address-groups": (address_groups.COLUMNS, address_groups.HOOKS),
    "qos/policies": (qos.COLUMNS, qos.HOOKS),
    "qos/policies/{policy_id}/{rule_kind}": (qos.ANY_RULE_COLUMNS, qos.RULE_HOOKS),
    "trunks": (trunks.COLUMNS, trunks.HOOKS),
    "segments": (segments.COLUMNS, segments.HOOKS),
    "flavors": (flavors.FLAVOR_COLUMNS, flavors.HOOKS),
    "service_profiles": (flavors.PROFILE_COLUMNS, flavors.HOOKS),
    "network_segment_ranges": (segment_ranges.COLUMNS, segment_ranges.HOOKS),
}


@dataclass(frozen=True)
class Filter:
    name: str
    json_type: str  # "string", "integer", "boolean"
    sortable: bool
    format: str | None = None  # "date-time" for timestamps


def collections() -> list[str]:
    return list(_LISTS)


def filters(collection: str) -> list[Filter]:
    """Every filter ``GET /v2.0/<collection>`` accepts, columns first, then hooks."""
    columns, hooks = _LISTS[collection]
    return describe(columns, hooks)


def describe(columns: Mapping[str, Column], hooks: Mapping[str, Any]) -> list[Filter]:
    """The filters of one list (a sub-collection's too) from its tables."""
    out = [_describe(name, col) for name, col in columns.items()]
    out += [Filter(name, "string", sortable=False) for name in hooks if name not in columns]
    return out


def _describe(name: str, col: Column) -> Filter:
    try:
        python_type: type = col.column.type.python_type
    except NotImplementedError:
        python_type = str
    if python_type is bool:
        return Filter(name, "boolean", sortable=True)
    if python_type is int:
        return Filter(name, "integer", sortable=True)
    if python_type is dt.datetime or name in ("created_at", "updated_at"):
        return Filter(name, "string", sortable=True, format="date-time")
    return Filter(name, "string", sortable=True)
