"""Trunk rules that need no database: the sub-ports body, and the status a trunk shows.

Sub-ports (Neutron's ``type:subports`` validator, then its per-sub-port checks, in Neutron's
order and words): a list of objects, each with a port UUID (no port twice), a
``segmentation_type`` and a ``segmentation_id``; ``vlan`` is the one type, with ids 1-4094;
``inherit`` takes the type and id of the sub-port's network (the caller resolves it, since it
needs the network). No (type, id) twice in one request; against the trunk's current sub-ports
the database's unique key decides.

Status (Neutron's ``status_police`` states), from the bindings the controller decides in the
same transaction as the change that moves them, and the agent's wiring reports:

- ``DOWN``: the parent port is not bound to a host (or its binding failed: no driver there);
- ``ERROR``: the parent is bound but a sub-port's binding failed (the host's agent cannot carry
  the sub-port's VLAN: see ``service.binding``); adding sub-ports is then refused until the
  user removes the failed ones, as in Neutron;
- ``DEGRADED``: every port is bound, the parent is wired (its port ``ACTIVE``, reported by the
  agent on its host) and a sub-port is not (its VLAN sub-interface could not be made, or is
  not yet: the agent reports a trunk's sub-ports before its parent, so a trunk wired in one
  round goes straight to ``ACTIVE``);
- ``ACTIVE``: the parent is bound and every sub-port bound with it, and either nothing is
  wired yet (no VM plugged) or everything is.

Neutron's ``BUILD`` (between a bind and its agent's first report) is not shown: a bound trunk
is ``ACTIVE`` until its agent says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from neutrino.common.errors import InvalidInput, excerpt
from neutrino.common.ids import is_uuid
from neutrino.domain.segments import MAX_VLAN

VLAN = "vlan"
INHERIT = "inherit"
SEGMENTATION_TYPES = (VLAN,)
SUBPORT_OWNER = "trunk:subport"

DOWN, ACTIVE, BUILD, DEGRADED, ERROR = "DOWN", "ACTIVE", "BUILD", "DEGRADED", "ERROR"


def subports_body(data: Any) -> list[dict[str, Any]]:
    """Neutron's ``validate_subports``: the shape of a list of sub-ports (400 otherwise)."""
    if not isinstance(data, list):
        raise InvalidInput(f"Invalid data format for subports: '{excerpt(data)}' is not a list")
    seen: set[str] = set()
    used: dict[Any, set[Any]] = {}
    out = []
    for subport in data:
        if not isinstance(subport, dict):
            raise InvalidInput(
                f"Invalid data format for subport: '{excerpt(subport)}' is not a dict"
            )
        if "port_id" not in subport:
            raise InvalidInput("A valid port UUID must be specified")
        port_id = subport["port_id"]
        if not is_uuid(port_id):
            raise InvalidInput(f"Invalid UUID for subport: '{excerpt(port_id)}'")
        if port_id in seen:
            raise InvalidInput(f"Non unique UUID for subport: '{port_id}'")
        seen.add(port_id)
        seg_type = subport.get("segmentation_type")
        seg_id = subport.get("segmentation_id")
        if seg_type != INHERIT:
            if (not seg_type or seg_id is None) and len(subport) > 1:
                raise InvalidInput(
                    f"Invalid subport details '{excerpt(subport)}': missing segmentation "
                    f"information. Must specify both segmentation_id and segmentation_type"
                )
            # Only plain values can repeat; a malformed pair is refused later, by segmentation().
            if seg_id is not None and _hashable(seg_id) and _hashable(seg_type):
                if seg_id in used.get(seg_type, set()):
                    raise InvalidInput(
                        f"Segmentation ID '{excerpt(seg_id)}' for '{port_id}' is not unique"
                    )
                used.setdefault(seg_type, set()).add(seg_id)
        out.append(dict(subport))
    return out


def _hashable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def segmentation(subport: dict[str, Any]) -> tuple[str, int]:
    """The (type, id) of one sub-port after ``inherit`` was resolved: both given, the type
    known and the id in its range (400 otherwise, with Neutron's messages)."""
    if "segmentation_type" not in subport or "segmentation_id" not in subport:
        raise InvalidInput(
            f"Invalid subport details '{excerpt(subport)}': missing segmentation information. "
            f"Must specify both segmentation_id and segmentation_type"
        )
    seg_type, raw_id = subport["segmentation_type"], subport["segmentation_id"]
    try:
        if isinstance(raw_id, bool) or (isinstance(raw_id, float) and not raw_id.is_integer()):
            raise ValueError
        seg_id = int(raw_id)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            f"Invalid subport details: segmentation_id '{excerpt(raw_id)}' is not an integer"
        ) from None
    if seg_type not in SEGMENTATION_TYPES:
        raise InvalidInput(f"Unknown segmentation_type '{excerpt(seg_type)}'")
    if not 1 <= seg_id <= MAX_VLAN:
        raise InvalidInput(f"Segmentation ID '{seg_id}' is not in range")
    return seg_type, seg_id


def status(
    parent_bound: bool,
    subport_vif_types: Iterable[str],
    *,
    parent_wired: bool = False,
    subports_wired: Iterable[bool] = (),
) -> str:
    """The trunk's status from its parent's binding and its sub-ports', and (``*_wired``:
    port status ``ACTIVE``) the agent's reports (see the module docstring)."""
    if not parent_bound:
        return DOWN
    if any(vif == "binding_failed" for vif in subport_vif_types):
        return ERROR
    if parent_wired and not all(subports_wired):
        return DEGRADED
    return ACTIVE
