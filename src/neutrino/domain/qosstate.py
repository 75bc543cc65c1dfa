"""QoS in host state: the bandwidth limits and DSCP marks the controller asks an agent to
enforce.

A bound port carries the limits of its effective policy (``PortState.bandwidth_limits``):
its own ``qos_policy_id``, else its network's, except for ports the network itself owns
(``network:*`` owners: DHCP, router interfaces), which Neutron never limits by the network's
policy. Directions are Neutron's, seen from the VM: ``egress`` is what the VM sends,
``ingress`` what it receives. Rates are kilobits per second (1 kbit = 1000 bits), as in the
API; ``max_burst_kbps`` 0 means "the agent's default burst". A port's ``dscp_mark`` (from the
same effective policy) is the DSCP of every IPv4 and IPv6 packet the VM sends.
"""

from __future__ import annotations

from dataclasses import dataclass

EGRESS, INGRESS = "egress", "ingress"
# the DSCP marks Neutron accepts (neutron-lib's VALID_DSCP_MARKS): 0, the class selectors
# CS1-CS7, the assured-forwarding classes, 44 (VOICE-ADMIT) and 46 (EF)
VALID_DSCP_MARKS: tuple[int, ...] = (0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32)
VALID_DSCP_MARKS += (34, 36, 38, 40, 44, 46, 48, 56)


@dataclass(frozen=True)
class BandwidthLimit:
    direction: str  # egress | ingress (from the VM's side)
    max_kbps: int
    max_burst_kbps: int = 0
