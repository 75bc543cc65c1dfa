"""MAC address generation from a base MAC (Neutron's ``base_mac``, default fa:16:3e:00:00:00).

Octets of the base that are zero after the first three are randomized; the result is always a
unicast, locally administered-or-vendor address as given by the base prefix.
"""

from __future__ import annotations

import random


def random_mac(base: str, rng: random.Random | None = None) -> str:
    rng = rng or random.SystemRandom()
    octets = base.lower().split(":")
    out = octets[:3]
    for octet in octets[3:]:
        out.append(octet if octet != "00" else f"{rng.randrange(256):02x}")
    return ":".join(out)
