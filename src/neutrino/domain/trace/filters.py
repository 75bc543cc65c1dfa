"""What a port's filter does with a packet: anti-spoofing, then security-group rules.

The same semantics the agent renders into nftables (``agent/sg_calc.py``, ``agent/sg_nft.py``),
evaluated on one packet instead of compiled:

* A port is filtered when port security is on and the controller did not make it itself
  (``Port.filtered``); anything else passes untouched.
* Egress starts with anti-spoofing: the source MAC must be the port's MAC or an allowed
  address pair's, and the source address one of that MAC's addresses (fixed IPs for the
  port's MAC, the pair's IP or CIDR for a pair's MAC; on IPv6 also the MAC's EUI-64
  link-local address). A VM may not answer DHCP (udp 67 -> 68, 547 -> 546) nor send router
  advertisements or redirects.
* Always allowed, before any group: DHCP client traffic out and server replies in, and the
  ICMPv6 neighbour discovery and MLD types the chains list.
* Then each rule of each of the port's groups, in the direction's chain: ethertype, remote
  (``remote_ip_prefix``, a ``remote_group_id``'s member addresses, or a
  ``remote_address_group_id``'s CIDRs) on the far side's
  address, protocol (none or 0 = any), the destination port range for port protocols, ICMP
  type (``port_range_min``) and code (``port_range_max``). First match accepts; none drops.
* Stateful groups (all of a port's groups, or no group) accept replies by conntrack
  (``established``); stateless ones need a rule for the reply too.

``check`` returns a ``FilterResult`` naming the rule that matched, or the reason and the fix.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from neutrino.domain.security_groups import ANY_PREFIXES, PORT_PROTOCOL_NUMBERS
from neutrino.domain.sgstate import RuleState
from neutrino.domain.trace.model import Group, NetworkModel, Port, in_prefix
from neutrino.domain.trace.packet import Labelled, Packet, protocol_number

__all__ = ["FilterResult", "anti_spoof", "check", "describe_rule", "link_local", "stateful"]

# ICMPv6 types the common chains accept (sg_nft.FIXED_CHAINS)
EGRESS_ND = frozenset({133, 135, 136, 143, 131})
INGRESS_ND = frozenset({135, 136, 134, 130})
SPOOF_ND = frozenset({134, 137})  # router advertisement, redirect: never from a VM


@dataclass(frozen=True)
class FilterResult:
    allowed: bool
    detail: str
    obj: Labelled  # the group or port the verdict came from
    fix: str | None = None


def link_local(mac: str) -> str:
    b = [int(x, 16) for x in mac.split(":")]
    eui = [b[0] ^ 2, b[1], b[2], 0xFF, 0xFE, b[3], b[4], b[5]]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80, 0, 0, 0, 0, 0, 0, *eui])))


def anti_spoof(port: Port, packet: Packet, src: str) -> FilterResult:
    obj = port
    if not port.filtered:
        return FilterResult(
            True,
            "port is not filtered (port security off or a port the "
            "controller made): no anti-spoofing",
            obj,
        )
    mac = (packet.src_mac or port.mac_address).lower()
    macs = {port.mac_address} | {p.mac_address for p in port.allowed_address_pairs}
    if mac not in macs:
        return FilterResult(
            False,
            f"source MAC {mac} is not the port's MAC "
            f"{port.mac_address} nor an allowed address pair's",
            obj,
            f"send from {port.mac_address}, or add an allowed address pair with mac_address {mac}",
        )
    allowed = [a for a in port.addresses if mac == port.mac_address]
    allowed += [p.ip_address for p in port.allowed_address_pairs if p.mac_address == mac]
    if packet.version == 6:
        allowed.append(link_local(mac))
    if not any(in_prefix(src, a) for a in allowed):
        listed = ", ".join(allowed) or "none"
        return FilterResult(
            False,
            f"source address {src} is not an address of the port for MAC {mac} (allowed: {listed})",
            obj,
            f"add an allowed address pair: openstack port set "
            f"--allowed-address ip-address={src} {port.id}",
        )
    if (
        packet.has_ports
        and packet.number == 17
        and (packet.sport, packet.dport) in ((67, 68), (547, 546))
    ):
        return FilterResult(
            False,
            "a VM may not answer DHCP",
            obj,
            "disable port security on the port of a DHCP server VM",
        )
    if packet.number == 58 and packet.echo_type() in SPOOF_ND:
        return FilterResult(
            False,
            "a VM may not send router advertisements or redirects",
            obj,
            "disable port security on the port of a router VM",
        )
    return FilterResult(True, f"source {src} and MAC {mac} belong to the port", obj)


def describe_rule(rule: RuleState) -> str:
    parts = [rule.direction, rule.ethertype, rule.protocol or "any"]
    lo, hi = rule.port_range_min, rule.port_range_max
    number = protocol_number(rule.protocol)
    if number in PORT_PROTOCOL_NUMBERS and (lo is not None or hi is not None):
        parts.append(f"port {lo}" if lo == hi else f"ports {lo or 1}-{hi or 65535}")
    elif number in (1, 58) and lo is not None:
        parts.append(f"type {lo}" + (f" code {hi}" if hi is not None else ""))
    side = "from" if rule.direction == "ingress" else "to"
    if rule.remote_group_id:
        parts.append(f"{side} members of group {rule.remote_group_id}")
    elif rule.remote_address_group_id:
        parts.append(f"{side} address group {rule.remote_address_group_id}")
    elif rule.remote_ip_prefix and rule.remote_ip_prefix not in ANY_PREFIXES:
        parts.append(f"{side} {rule.remote_ip_prefix}")
    else:
        parts.append(f"{side} anywhere")
    return f"rule {rule.id} ({' '.join(parts)})"


def rule_matches(rule: RuleState, packet: Packet, far: str, model: NetworkModel) -> bool:
    """Whether ``rule`` accepts ``packet`` whose far side (source for ingress, destination
    for egress) is ``far`` — the nft rule ``sg_nft.rule_text`` renders, evaluated."""
    if rule.ethertype != packet.ethertype:
        return False
    if rule.remote_group_id:
        if not any(in_prefix(far, m) for m in model.members.get(rule.remote_group_id, ())):
            return False
    elif rule.remote_address_group_id:
        cidrs = model.address_groups.get(rule.remote_address_group_id, ())
        if not any(in_prefix(far, c) for c in cidrs):
            return False
    elif (
        rule.remote_ip_prefix
        and rule.remote_ip_prefix not in ANY_PREFIXES
        and not in_prefix(far, rule.remote_ip_prefix)
    ):
        return False
    number = protocol_number(rule.protocol)
    if number is None:
        return True
    if number != packet.number:
        return False
    lo, hi = rule.port_range_min, rule.port_range_max
    if number in PORT_PROTOCOL_NUMBERS and (lo is not None or hi is not None):
        return packet.dport is not None and (lo or 1) <= packet.dport <= (hi or 65535)
    if number in (1, 58) and lo is not None:
        if packet.echo_type() != lo:
            return False
        return hi is None or (packet.icmp_code or 0) == hi
    return True


def _common(direction: str, packet: Packet) -> str | None:
    """The always-allowed traffic of a direction's common chain, or None."""
    if packet.number == 17 and packet.has_ports:
        pair = (packet.sport, packet.dport)
        if direction == "egress" and pair in ((68, 67), (546, 547)):
            return "DHCP client traffic is always allowed out"
        if direction == "ingress" and pair in ((67, 68), (547, 546)):
            return "DHCP server replies are always allowed in"
    if packet.number == 58:
        kinds = EGRESS_ND if direction == "egress" else INGRESS_ND
        if packet.echo_type() in kinds:
            return "ICMPv6 neighbour discovery / MLD is always allowed"
    return None


def stateful(port: Port, model: NetworkModel) -> bool:
    groups = [model.groups[g] for g in port.security_groups if g in model.groups]
    return all(g.stateful for g in groups)


def check(
    port: Port, direction: str, packet: Packet, src: str, model: NetworkModel
) -> FilterResult:
    """The port's ``direction`` (ingress/egress) filter on ``packet`` from ``src``."""
    if not port.filtered:
        why = (
            "port security is disabled"
            if not port.port_security_enabled
            else "the controller made this port"
        )
        return FilterResult(True, f"not filtered: {why}", port)
    common = _common(direction, packet)
    if common:
        return FilterResult(True, common, port)
    far = src if direction == "ingress" else packet.dst
    groups = [model.groups[g] for g in port.security_groups if g in model.groups]
    for group in groups:
        for rule in sorted(group.rules, key=lambda r: r.id):
            if rule.direction == direction and rule_matches(rule, packet, far, model):
                return FilterResult(
                    True,
                    f"allowed by {describe_rule(rule)} in {group.label()}",
                    group,
                )
    return _refused(port, direction, packet, far, groups, model)


def _refused(
    port: Port, direction: str, packet: Packet, far: str, groups: list[Group], model: NetworkModel
) -> FilterResult:
    side = "from" if direction == "ingress" else "to"
    subnet = next((s for s in model.subnets.values() if s.contains(far)), None)
    remote = subnet.cidr if subnet is not None else far
    what = f"{packet.describe()} {side} {far}"
    args = [f"--{direction}", f"--ethertype {packet.ethertype}"]
    if packet.number is not None:
        args.append(f"--protocol {packet.protocol}")
    if packet.has_ports and packet.dport is not None:
        args.append(f"--dst-port {packet.dport}")
    elif packet.icmp:
        args.append(f"--icmp-type {packet.echo_type()}")
    args.append(f"--remote-ip {remote}")
    if not groups:
        return FilterResult(
            False,
            f"port has port security on and no security group: only DHCP/ND/ARP pass, not {what}",
            port,
            f"add a security group to the port (openstack port set "
            f"--security-group GROUP {port.id}) or disable port security",
        )
    names = ", ".join(g.label() for g in groups)
    return FilterResult(
        False,
        f"no {direction} rule allows {what} in {names}",
        groups[0],
        f"add: openstack security group rule create {' '.join(args)} {groups[0].id}",
    )
