"""DSCP marking: what a VM sends gets its QoS policy's DSCP mark, in nftables.

``DscpManager(netns).apply(marks)`` converges the table ``bridge neutrino_dscp`` of its
namespace to ``marks`` (tap device -> DSCP mark, ``agent.qos_calc.desired_marks``):

* a ``prerouting`` base chain of the bridge family (priority ``filter``) sends each frame
  that enters a bridge through a tap in the verdict map ``ports`` to the chain of its mark,
  ``mark<N>``, which rewrites the DSCP field of IPv4 (the header checksum is updated) and
  IPv6 packets, leaving the two ECN bits as they were; frames of other devices and other
  protocols pass untouched. A frame redirected through the port's ``ifb`` device for an
  egress bandwidth limit comes back with the tap as its input device, so it is marked too;
* the whole table is written in one ``nft`` transaction (create, delete, define) when the
  marks change, and deleted when no port has one: the kernel never holds a partial table,
  and the text last applied is remembered so an unchanged round costs nothing; a full resync
  writes it again (whatever changed it meanwhile is undone), and so does a restarted agent's
  first round (a previous process's table is replaced whole).

The mark is set on the inner packet; the VXLAN device's outer header carries DSCP 0 (the
kernel's default ``tos 0``, Neutron's default ``dscp_inherit = False``), see docs/qos.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from neutrino.agent.dataplane.nftables import Nft

TABLE = "neutrino_dscp"


def ruleset(marks: Mapping[str, int]) -> str:
    """The table's whole text for ``marks`` (tap -> DSCP); "" when nothing is marked."""
    if not marks:
        return ""
    chains = "".join(
        f"    chain mark{mark} {{\n"
        f"        ether type ip ip dscp set {mark}\n"
        f"        ether type ip6 ip6 dscp set {mark}\n"
        f"    }}\n"
        for mark in sorted(set(marks.values()))
    )
    elements = ", ".join(f'"{dev}" : jump mark{mark}' for dev, mark in sorted(marks.items()))
    return (
        f"table bridge {TABLE} {{\n"
        f"    map ports {{\n"
        f"        type ifname : verdict\n"
        f"        elements = {{ {elements} }}\n"
        f"    }}\n"
        f"{chains}"
        f"    chain prerouting {{\n"
        f"        type filter hook prerouting priority filter; policy accept;\n"
        f"        iifname vmap @ports\n"
        f"    }}\n"
        f"}}\n"
    )


class DscpManager:
    def __init__(self, netns: str | None = None, nft: Nft | None = None) -> None:
        self.nft = nft or Nft(netns)
        self.applied: str | None = None  # None: unknown (a fresh process)

    def apply(self, marks: Mapping[str, int], force: bool = False) -> list[str]:
        """Converge the table to ``marks``; the changes made (empty when none). ``force``
        (a full resync) writes it again even when unchanged since the last write."""
        text = ruleset(marks)
        if text == self.applied and not force:
            return []
        # "table" first makes the delete valid whether or not the table exists
        replace = f"table bridge {TABLE}\ndelete table bridge {TABLE}\n"
        self.nft.run(replace + text)
        self.applied = text
        if not marks:
            return ["DSCP marks removed"]
        return [f"DSCP {mark} on {dev}" for dev, mark in sorted(marks.items())]

    def remove(self) -> bool:
        """Delete the table (agent teardown); whether it was there."""
        present = f"table bridge {TABLE}" in self.nft.run("list tables").splitlines()
        if present:
            self.nft.run(f"delete table bridge {TABLE}\n")
        self.applied = None
        return present

    def close(self) -> None:
        self.nft.close()
