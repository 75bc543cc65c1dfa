"""Pure L3 HA calculation: the keepalived configuration of one HA router on this host.

An HA router's namespace is built on every host of the router (``agent.l3_calc``), but its
interface and gateway addresses, floating IPs and routes are keepalived's: VRRP over the
host's HA port (``ha-<port[:11]>``, an address in 169.254.192.0/18 on the project's HA
network) elects one master, which alone holds them. The rendered configuration:

* one ``vrrp_instance`` with the router's VRRP id, every host ``state BACKUP`` with the same
  priority and ``nopreempt``: the first to find no master becomes master, and a host that
  comes back (keepalived restarted, a network node rebooted) rejoins as backup instead of
  taking the router back (a second interruption for nothing);
* VRRP version 3 with ``advert_int`` ``ADVERT_INT`` (0.5 s; v3 counts in centiseconds): a
  backup declares the master dead after 3 adverts plus its skew, about 1.6 s, well inside
  the 3 s an outage may last (docs/l3-ha.md says how it was measured);
* unicast to the other hosts' HA addresses (``unicast_peer``): the HA network is a VXLAN
  network whose hosts know each other's ports (l2population), no multicast needed;
* ``virtual_ipaddress``: one link-local address per router on the HA port (so the instance
  always has a primary VIP, as Neutron does), then ``virtual_ipaddress_excluded`` (not in
  the adverts, no limit on their number, and of either family, which is how Neutron carries
  IPv6 too): every interface and gateway address (IPv4 and IPv6) and each floating IP as a
  /32 on the gateway device; a router that routes IPv6 also gets each device's EUI-64
  link-local address there (``scope link``), so only the master answers, and advertises
  itself, at the address VMs and the upstream router use as the next hop;
* ``virtual_routes``: the default routes (IPv4 and IPv6) via the gateway subnets' gateways
  and the extra routes, installed by the master only (``protocol`` 18, keepalived's, so the
  agent's own route sync, which owns ``proto static``, never touches them);
* ``notify``: a script that writes the new state (``MASTER``/``BACKUP``/``FAULT``) to a file
  the agent reads and reports (``ha_state``), turns IPv6 forwarding on for a master and off
  otherwise when the router routes IPv6 (a forwarding device joins ff02::2 and reports it
  with MLD from the router's MAC: a backup must stay silent), and, when a conntrackd
  configuration is given, drives conntrackd (commit the backup's copy of the connections on
  becoming master).

No I/O; deterministic: equal inputs render equal text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ADVERT_INT",
    "CONNTRACKD_PORT",
    "HaInstance",
    "render_conntrackd",
    "render_keepalived",
    "render_notify",
]

ADVERT_INT = 0.5  # seconds between VRRP adverts (VRRPv3: centisecond resolution)
PRIORITY = 50
VIP_NET = "169.254.0.0/24"  # the instance's primary VIP: 169.254.0.<vr_id>, on the HA port
RTPROT_KEEPALIVED = 18
CONNTRACKD_PORT = 3780


@dataclass(frozen=True)
class HaInstance:
    """What keepalived needs for one router (all sorted, built by ``agent.l3_calc``)."""

    router_id: str
    vr_id: int
    ha_device: str
    ha_address: str  # this host's, without prefix length
    peers: tuple[str, ...]
    vips: tuple[tuple[str, str], ...]  # ("192.0.2.1/24", "qr-…") in order
    routes: tuple[tuple[str, str, str], ...]  # (destination, nexthop, device or "")
    # the router routes IPv6: its devices' link-local addresses (("fe80::…/64", "qr-…")),
    # also keepalived's; empty for an IPv4-only router
    link_locals: tuple[tuple[str, str], ...] = ()

    @property
    def ipv6(self) -> bool:
        return bool(self.link_locals)


def render_keepalived(instance: HaInstance, notify_script: str) -> str:
    i = instance
    lines = [
        "global_defs {",
        f"    router_id neutrino-{i.router_id[:8]}",
        "    vrrp_garp_master_delay 0",
        "    vrrp_garp_master_repeat 3",
        "    vrrp_garp_lower_prio_repeat 1",
        "}",
        f"vrrp_instance VR_{i.vr_id} {{",
        "    state BACKUP",
        f"    interface {i.ha_device}",
        f"    virtual_router_id {i.vr_id}",
        f"    priority {PRIORITY}",
        "    nopreempt",
        "    version 3",
        f"    advert_int {ADVERT_INT}",
        f"    unicast_src_ip {i.ha_address}",
        "    unicast_peer {",
        *[f"        {p}" for p in i.peers],
        "    }",
        "    track_interface {",
        f"        {i.ha_device}",
        "    }",
        "    virtual_ipaddress {",
        f"        169.254.0.{i.vr_id}/24 dev {i.ha_device} scope link",
        "    }",
        "    virtual_ipaddress_excluded {",
        *[f"        {cidr} dev {dev}" for cidr, dev in i.vips],
        *[f"        {cidr} dev {dev} scope link" for cidr, dev in i.link_locals],
        "    }",
        "    virtual_routes {",
        *[
            f"        {dest} via {hop}"
            + (f" dev {dev}" if dev else "")
            + f" protocol {RTPROT_KEEPALIVED}"
            for dest, hop, dev in i.routes
        ],
        "    }",
        f'    notify "{notify_script}"',
        "}",
    ]
    return "\n".join(lines) + "\n"


def render_notify(state_file: str, conntrackd: Sequence[str] = (), *, ipv6: bool = False) -> str:
    """The notify script keepalived runs with ``<type> <name> <state> <priority>``: record
    the state (written to a temporary file, then renamed: the agent never reads half a
    word), set IPv6 forwarding (``ipv6``: on for a master only; keepalived runs it in the
    router's namespace, whose ``/proc/sys/net`` it writes), then run the conntrackd commands
    for it (``conntrackd`` = the command prefix, e.g. ``conntrackd -C <conf>``; empty:
    none)."""
    lines = [
        "#!/bin/sh",
        "# written by the neutrino agent: keepalived's notify script for one HA router",
        f'echo "$3" > "{state_file}.tmp" && mv "{state_file}.tmp" "{state_file}"',
    ]
    if ipv6:
        forwarding = "/proc/sys/net/ipv6/conf/all/forwarding"
        lines.append(
            f'if [ "$3" = MASTER ]; then echo 1 > {forwarding}; else echo 0 > {forwarding}; fi'
        )
    if conntrackd:
        ct = " ".join(conntrackd)
        lines += [
            'case "$3" in',
            # become master: put the connections the old master synced into the kernel,
            # then take over the sync as its source
            f"    MASTER) {ct} -c; {ct} -f; {ct} -R; {ct} -B ;;",
            # become backup: ask the master for its table
            f"    BACKUP) {ct} -n ;;",
            f"    FAULT) {ct} -t ;;",
            "esac",
        ]
    return "\n".join(lines) + "\nexit 0\n"


def render_conntrackd(instance: HaInstance, directory: str) -> str | None:
    """conntrackd's configuration: FTFW (reliable) sync of the router's connections to the
    other host over UDP on the HA port, both directions (every host keeps the others' table
    in its external cache; the new master commits it). None unless the router has exactly
    one peer: conntrackd's unicast channel has one destination, and its multicast one would
    need a group address outside the ranges this project may use (docs/l3-ha.md)."""
    if len(instance.peers) != 1:
        return None
    lines = [
        "Sync {",
        "    Mode FTFW {",
        "        DisableExternalCache Off",
        "    }",
        "    UDP {",
        f"        IPv4_address {instance.ha_address}",
        f"        IPv4_Destination_Address {instance.peers[0]}",
        f"        Port {CONNTRACKD_PORT}",
        f"        Interface {instance.ha_device}",
        "        Checksum on",
        "    }",
        "}",
        "General {",
        "    HashSize 8192",
        "    HashLimit 65536",
        "    Syslog off",
        f"    LogFile {directory}/conntrackd.log",
        f"    LockFile {directory}/conntrackd.lock",
        "    UNIX {",
        f"        Path {directory}/conntrackd.ctl",
        "    }",
        "    NetlinkBufferSize 2097152",
        "    NetlinkBufferSizeMaxGrowth 8388608",
        "    Filter From Userspace {",
        "        Protocol Accept {",
        "            TCP",
        "            UDP",
        "            ICMP",
        "        }",
        "        Address Ignore {",
        "            IPv4_address 127.0.0.1",
        f"            IPv4_address {instance.ha_address}",
        f"            IPv4_address {instance.peers[0]}",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"
