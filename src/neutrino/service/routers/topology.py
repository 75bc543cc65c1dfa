"""What a router is connected to, and the rules on what it may connect to next.

Owns Neutron's ``_check_for_dup_router_subnets`` invariant: a router never has two interfaces
on one subnet nor on overlapping CIDRs of the same IP version. For the gateway every subnet of
the external network counts, not only the one its fixed IP is on. Both the interface and the
gateway paths call :func:`check_overlap` before they create or attach a port.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.service.routers.errors import bad
from neutrino.store import routers as repo
from neutrino.store import subnets as subnet_repo


def check_overlap(conn: Any, router_id: str, new: list[Any], *, gateway: bool = False) -> None:
    """Neutron's ``_check_for_dup_router_subnets``: no subnet twice, no overlapping CIDRs
    (for the gateway, every subnet of the external network counts)."""
    new_ids = {s["id"] for s in new}
    theirs: dict[str, str] = {}
    gateways = set(repo.port_ids(conn, router_id, repo.GATEWAY))
    for a in repo.attached_subnets(conn, router_id):
        if a["subnet_id"] in new_ids and not gateway:
            raise bad(f"Router already has a port on subnet {a['subnet_id']}")
        if a["port_id"] in gateways:
            for s in subnet_repo.on_network(conn, a["network_id"]):
                theirs[s["id"]] = s["cidr"]
        else:
            theirs[a["subnet_id"]] = a["cidr"]
    for s in new:
        mine = ipaddress.ip_network(s["cidr"])
        for other_id, cidr in theirs.items():
            other = ipaddress.ip_network(cidr)
            if other_id != s["id"] and mine.version == other.version and mine.overlaps(other):
                raise bad(
                    f"Cidr {s['cidr']} of subnet {s['id']} overlaps with cidr "
                    f"{cidr} of subnet {other_id}"
                )
