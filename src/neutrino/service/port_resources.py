"""A port's ``resource_request`` (extensions ``port-resource-request`` and
``port-resource-request-groups``): what a scheduler must find on a host for the port's
guaranteed minimums, in Nova placement's terms, as Neutron computes it.

The port's policy (its own, else its network's: Neutron's ``qos_network_policy_id``, for
every port) gives at most two request groups:

* its minimum-bandwidth rules: resources ``NET_BW_EGR_KILOBIT_PER_SEC`` and/or
  ``NET_BW_IGR_KILOBIT_PER_SEC``, with the traits of the network's first segment
  (``CUSTOM_PHYSNET_<PHYSNET>``, or ``CUSTOM_NETWORK_TUNNEL_PROVIDER`` for an overlay) and of
  the port's vNIC type (``CUSTOM_VNIC_TYPE_<TYPE>``);
* its minimum-packet-rate rules: ``NET_PACKET_RATE_[EGR_|IGR_]KILOPACKET_PER_SEC`` (no
  direction for ``any``), with the vNIC type's trait only.

Each group's id is a version-5 UUID in the port's id namespace over the rules' ids (stable
while the rules are); ``same_subtree`` lists the groups. No minimum rule: ``None``.
Only admins see the attribute (Neutron's policy); neutrino has no placement service, so
nothing allocates what it asks: see docs/qos.md.

Cost: one query tells whether any minimum rule exists at all; only then are the listed
ports' policies and their networks read (one query each), so an admin's list of 10,000 ports
on a deployment without minimum rules pays one trivial query.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from neutrino.service import qos_attrs as qa
from neutrino.store import qos as repo

KEY = "resource_request"
TUNNEL_TRAIT = "CUSTOM_NETWORK_TUNNEL_PROVIDER"
BANDWIDTH = {"egress": "NET_BW_EGR_KILOBIT_PER_SEC", "ingress": "NET_BW_IGR_KILOBIT_PER_SEC"}
PACKET_RATE = {
    "egress": "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
    "ingress": "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
    "any": "NET_PACKET_RATE_KILOPACKET_PER_SEC",
}
# rule type -> (its amount's attribute, resource class by direction)
MINIMUMS = {
    qa.MINIMUM_BANDWIDTH: ("min_kbps", BANDWIDTH),
    qa.MINIMUM_PACKET_RATE: ("min_kpps", PACKET_RATE),
}


@functools.cache
def trait(prefix: str, name: str) -> str:
    """A custom placement trait (os-traits' normalization: non-alphanumerics to ``_``)."""
    return "CUSTOM_" + re.sub("[^0-9A-Za-z]+", "_", prefix + name).upper()


def group_id(port_id: str, name: str) -> str:
    """``uuid.uuid5(UUID(port_id), name)`` without building UUID objects (a tenth of the
    time: an admin's list computes one per port)."""
    digest = bytearray(
        hashlib.sha1(bytes.fromhex(port_id.replace("-", "")) + name.encode()).digest()
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def any_minimums(conn: Any) -> bool:
    """Whether any policy has a minimum rule (else every port's request is None)."""
    return repo.any_rules(conn, list(MINIMUMS))


def requests(conn: Any, ports: Iterable[tuple[str, str, str | None, str]]) -> dict[str, Any]:
    """Port id -> its ``resource_request`` (None without minimum rules), for ``ports`` as
    (id, network id, own policy id, vNIC type)."""
    listed = list(ports)
    out: dict[str, Any] = dict.fromkeys((p[0] for p in listed), None)
    if not any_minimums(conn):
        return out
    networks = repo.network_policies(conn, {p[1] for p in listed})
    policy_of = {pid: own or networks.get(net, (None, None))[0] for pid, net, own, _ in listed}
    rules = {
        kind: repo.rules_by_policy(conn, kind, {p for p in policy_of.values() if p})
        for kind in MINIMUMS
    }
    # per policy and kind: (the rules' ids joined, the resources), computed once
    made: dict[tuple[str, str], tuple[str, dict[str, int]]] = {}
    for kind, (amount, classes) in MINIMUMS.items():
        for policy, mine in rules[kind].items():
            resources = {classes[r["direction"]]: r[amount] for r in mine}
            made[(kind, policy)] = (":".join(r["id"] for r in mine), resources)
    for pid, net, _, vnic in listed:
        policy = policy_of[pid]
        if policy is None:
            continue
        vnic_trait = trait("VNIC_TYPE_", vnic or "normal")
        groups = []
        for kind in MINIMUMS:
            if (kind, policy) not in made:
                continue
            name, resources = made[(kind, policy)]
            if kind == qa.MINIMUM_BANDWIDTH:
                physnet = networks.get(net, (None, None))[1]
                required = [trait("PHYSNET_", physnet) if physnet else TUNNEL_TRAIT, vnic_trait]
            else:
                required = [vnic_trait]
            groups.append(
                {"id": group_id(pid, name), "required": required, "resources": dict(resources)}
            )
        if groups:
            out[pid] = {"request_groups": groups, "same_subtree": [g["id"] for g in groups]}
    return out
