"""QoS in host state: the bandwidth limits the controller asks an agent to enforce.

A bound port carries the limits of its effective policy (``PortState.bandwidth_limits``):
its own ``qos_policy_id``, else its network's, except for ports the network itself owns
(``network:*`` owners: DHCP, router interfaces), which Neutron never limits by the network's
policy. Directions are Neutron's, seen from the VM: ``egress`` is what the VM sends,
``ingress`` what it receives. Rates are kilobits per second (1 kbit = 1000 bits), as in the
API; ``max_burst_kbps`` 0 means "the agent's default burst".
"""

from __future__ import annotations

from dataclasses import dataclass

EGRESS, INGRESS = "egress", "ingress"


@dataclass(frozen=True)
class BandwidthLimit:
    direction: str  # egress | ingress (from the VM's side)
    max_kbps: int
    max_burst_kbps: int = 0
