"""QoS calculation (pure): the traffic shaping each bound port's device needs.

The kernel mechanism (``dataplane.qos`` applies it; ``docs/qos.md`` explains it):

* a VM's **ingress** (what it receives) leaves the host through the port's device (the tap):
  a ``tbf`` qdisc at the root of the tap shapes it;
* a VM's **egress** (what it sends) enters the host through the tap, where this kernel can
  only redirect (no ``police`` action, no ``matchall``): a ``u32`` match-all filter on the
  tap's ``ingress`` qdisc redirects every packet to an ``ifb`` device of the port
  (``qos-<port[:11]>``), whose root ``tbf`` shapes it before it comes back to the bridge.

Token bucket sizes follow Neutron: a rule's ``max_burst_kbps`` 0 means 80% of ``max_kbps``
(in kilobits, so 0.8 s of traffic at the rate); the bucket is never smaller than what one
timer tick (HZ 250) lets through nor than a 64 KiB GSO packet, so a low rate still passes
full-size packets. ``latency`` bounds the queue (its bytes follow from it and the rate).

**DSCP marking** (``desired_marks``): what a VM sends gets its policy's DSCP mark, IPv4 and
IPv6 alike, in nftables (``dataplane.dscp``) as the frames enter the bridge from the tap.

The agent reports the rule types it serves (``configurations``), with their parameters as
Neutron's ``qos-rule-type-details`` shows them: those it enforces, and the minimum rules,
which it does not enforce (no guarantee in the kernel) but which ports may carry for a
scheduler's placement, as Neutron's Open vSwitch driver reports minimum packet rates it never
enforces either; ``qos_placement_only_rule_types`` names those.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from neutrino.domain.hoststate import HostState, PortState, tap_name
from neutrino.domain.l3state import gateway_device, router_namespace
from neutrino.domain.qosstate import EGRESS, INGRESS, VALID_DSCP_MARKS, BandwidthLimit

KERNEL_HZ = 250
MIN_BURST_BYTES = 65536  # a GSO super-packet passes the bucket whole
DEFAULT_BURST_RATIO = 0.8  # Neutron's default burst: 80% of the rate, in kilobits
LATENCY_MS = 50
INT_MAX = 2**31 - 1
IFB_PREFIX = "qos-"
PLACEMENT_ONLY_KEY = "qos_placement_only_rule_types"


def ifb_name(port_id: str) -> str:
    return f"{IFB_PREFIX}{port_id[:11]}"


@dataclass(frozen=True)
class Tbf:
    """A token bucket: ``rate`` in bits per second, ``burst`` in bytes."""

    rate: int
    burst: int
    latency_ms: int = LATENCY_MS


@dataclass(frozen=True)
class PortShaping:
    """What one port's device needs: ``to_vm`` at the tap's root (the VM's ingress), and
    ``from_vm`` on the port's ifb device (the VM's egress). None: no limit that way."""

    device: str
    ifb: str
    to_vm: Tbf | None = None
    from_vm: Tbf | None = None


def bucket(max_kbps: int, max_burst_kbps: int = 0) -> Tbf:
    """The token bucket of a bandwidth-limit rule (see the module docstring)."""
    rate = max_kbps * 1000
    burst_kbit = max_burst_kbps or int(max_kbps * DEFAULT_BURST_RATIO)
    burst = max(burst_kbit * 1000 // 8, rate // 8 // KERNEL_HZ, MIN_BURST_BYTES)
    return Tbf(rate=rate, burst=burst)


def _buckets(limits: Iterable[BandwidthLimit]) -> dict[str, Tbf]:
    """Direction -> the token bucket of its limit; a limit to 0 kbps, which Neutron treats
    as no limit, has none."""
    return {b.direction: bucket(b.max_kbps, b.max_burst_kbps) for b in limits if b.max_kbps > 0}


def port_shaping(port: PortState) -> PortShaping | None:
    """The port's shaping, or None when its policy sets no limit."""
    buckets = _buckets(port.bandwidth_limits)
    if not buckets:
        return None
    to_vm, from_vm = buckets.get(INGRESS), buckets.get(EGRESS)
    return PortShaping(port.device_name, ifb_name(port.id), to_vm, from_vm)


class QosCalc:
    """Each bound port's shaping (``port_shaping``) and DSCP mark, by device, with memory: a
    round looks again only at the ports the state's patch touched (``HostState.touched``),
    else at every port. One per agent."""

    def __init__(self) -> None:
        self._ports: tuple[PortState, ...] | None = None
        self._shaping: dict[str, PortShaping] = {}
        self._marks: dict[str, int] = {}

    def compute(self, state: HostState) -> tuple[dict[str, PortShaping], dict[str, int]]:
        """(device -> shaping of every port with a limit, device -> mark of every port
        with one): new dicts, the caller may keep them."""
        ports: dict[str, PortState] = state.indexed("ports")
        touched = state.touched("ports", self._ports)
        if touched is None:
            self._shaping, self._marks, touched = {}, {}, set(ports)
        for pid in touched:
            device, port = tap_name(pid), ports.get(pid)
            shaping = None if port is None else port_shaping(port)
            mark = None if port is None else port.dscp_mark
            self._shaping.pop(device, None)
            self._marks.pop(device, None)
            if shaping is not None:
                self._shaping[device] = shaping
            if mark is not None:
                self._marks[device] = mark
        self._ports = state.ports
        return dict(self._shaping), dict(self._marks)


def desired_shaping(state: HostState) -> dict[str, PortShaping]:
    """Device name -> its shaping, for every bound port with a limit."""
    return QosCalc().compute(state)[0]


def desired_marks(state: HostState) -> dict[str, int]:
    """Device name -> the DSCP mark of what the VM sends, for every bound port with one."""
    return QosCalc().compute(state)[1]


def _parameter(name: str, kind: str, values: object) -> dict[str, object]:
    """One parameter of a rule type, as ``qos-rule-type-details`` shows it."""
    return {"parameter_name": name, "parameter_type": kind, "parameter_values": values}


def configurations() -> dict[str, object]:
    """What the agent reports: the rule types it enforces and their parameters
    (``service.qos_attrs.CONFIG_KEY``)."""
    kbps_range = {"start": 0, "end": INT_MAX}
    directions = _parameter("direction", "choices", [EGRESS, INGRESS])
    return {
        "qos_rule_types": {
            "bandwidth_limit": [
                _parameter("max_kbps", "range", kbps_range),
                _parameter("max_burst_kbps", "range", kbps_range),
                directions,
            ],
            "dscp_marking": [_parameter("dscp_mark", "choices", list(VALID_DSCP_MARKS))],
            "minimum_bandwidth": [_parameter("min_kbps", "range", kbps_range), directions],
            "minimum_packet_rate": [
                _parameter("min_kpps", "range", kbps_range),
                _parameter("direction", "choices", ["any", INGRESS, EGRESS]),
            ],
        },
        # accepted for scheduling (the ports' resource_request), enforced by nothing here
        PLACEMENT_ONLY_KEY: ["minimum_bandwidth", "minimum_packet_rate"],
    }


# --- floating IPs (qos-fip): in the router's namespace, on its gateway device ------------------


@dataclass(frozen=True)
class FipShaping:
    """One floating IP's buckets: ``from_vm`` for what leaves through it (matched on its
    address as source after SNAT), ``to_vm`` for what arrives for it (its address as
    destination, before DNAT)."""

    address: str
    to_vm: Tbf | None = None
    from_vm: Tbf | None = None


@dataclass(frozen=True)
class RouterShaping:
    """The shaping of a router's gateway device (``qg-``): an htb class per limited floating
    IP way, unmatched traffic unshaped. ``fips`` empty: nothing of ours on the device."""

    namespace: str
    device: str
    ifb: str
    fips: tuple[FipShaping, ...] = ()


def desired_fip_shaping(state: HostState, namespace_suffix: str = "") -> dict[str, RouterShaping]:
    """Router id -> its gateway's shaping, for every hosted router with a gateway (those
    without limited floating IPs too, so a limit removed is cleared)."""
    out = {}
    for router in state.routers:
        if router.gateway is None:
            continue
        fips = []
        for fip in router.floating_ips:
            if buckets := _buckets(fip.bandwidth_limits):
                to_vm, from_vm = buckets.get(INGRESS), buckets.get(EGRESS)
                fips.append(FipShaping(fip.floating_ip_address, to_vm, from_vm))
        out[router.id] = RouterShaping(
            namespace=router_namespace(router.id) + namespace_suffix,
            device=gateway_device(router.gateway.id),
            ifb=ifb_name(router.gateway.id),
            fips=tuple(sorted(fips, key=lambda f: f.address)),
        )
    return out
