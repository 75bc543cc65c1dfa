#!/usr/bin/env python3
"""Trace figures: how long one packet trace takes from the model (issue 16: < 100 ms on a
network of 1,000 ports).

Method
------
A synthetic model, built with ``domain.trace.from_neutron`` from Neutron wire dicts as the
service builds it: ``--ports`` VM ports spread over ``--networks`` VXLAN networks (one IPv4
subnet each, carved from 10.0.0.0/8: the model lives only in memory, no packet is sent),
``--groups`` security groups of 6 rules each (egress v4/v6, ingress tcp/22 from a CIDR, icmp,
udp/53 and one from the group itself as a remote group), every port in one group and one
allowed address pair per tenth port, one router joining every network with an external
gateway and a floating IP per tenth port, 4 hosts with tunnel endpoints.

Timed (median and p99 over ``--rounds`` each, ``time.perf_counter``):

* ``model``: ``from_neutron`` (indexes included) — what a model rebuild costs (the service
  keeps the model per change-log revision: ``bench/trace_service.py``);
* ``same_net``: a trace between two ports of one network (allowed by a remote-group rule);
* ``routed``: a trace across the router (two L2 hops, a route, the ingress rules);
* ``refused``: a trace refused at the destination's ingress (every rule of the group scanned,
  the fix rendered);
* ``fip_in``: from outside to a floating IP (DNAT, route, ingress).

Pure computation: no root, no network, no database. Output: JSON on stdout, a summary on
stderr.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from neutrino.domain.trace import NetworkModel, Packet, from_neutron
from neutrino.domain.trace.walk import trace_from_external, trace_from_port

EXT = "net-ext"
ROUTER = "router-1"


def rules(gid: str) -> list[dict[str, Any]]:
    def r(i: int, direction: str, ethertype: str = "IPv4", **kw: Any) -> dict[str, Any]:
        return {"id": f"{gid}-r{i}", "direction": direction, "ethertype": ethertype, **kw}

    return [
        r(0, "egress"),
        r(1, "egress", "IPv6"),
        r(
            2,
            "ingress",
            protocol="tcp",
            port_range_min=22,
            port_range_max=22,
            remote_ip_prefix="10.0.0.0/8",
        ),
        r(3, "ingress", protocol="icmp", remote_ip_prefix="10.0.0.0/16"),
        r(4, "ingress", protocol="udp", port_range_min=53, port_range_max=53),
        r(5, "ingress", remote_group_id=gid),
    ]


def build(ports: int, networks: int, groups: int) -> dict[str, Any]:
    nets = [
        {
            "id": f"net-{n}",
            "name": f"n{n}",
            "provider:network_type": "vxlan",
            "provider:segmentation_id": 100 + n,
        }
        for n in range(networks)
    ]
    nets.append(
        {"id": EXT, "name": "public", "provider:network_type": "flat", "router:external": True}
    )
    per_net = -(-ports // networks)
    prefix = max(8, 32 - (per_net + 10).bit_length())
    subnets, port_list, fips = [], [], []
    blocks = ipaddress.ip_network("10.0.0.0/8").subnets(new_prefix=prefix)
    for n in range(networks):
        block = next(blocks)
        subnets.append(
            {
                "id": f"sn-{n}",
                "network_id": f"net-{n}",
                "cidr": str(block),
                "ip_version": 4,
                "gateway_ip": str(block[1]),
            }
        )
        port_list.append(
            {
                "id": f"r-{n}",
                "network_id": f"net-{n}",
                "mac_address": f"fa:16:3f:00:{n // 256:02x}:{n % 256:02x}",
                "fixed_ips": [{"subnet_id": f"sn-{n}", "ip_address": str(block[1])}],
                "binding:host_id": "net1",
                "binding:vif_type": "bridge",
                "status": "ACTIVE",
                "device_owner": "network:router_interface",
                "device_id": ROUTER,
                "security_groups": [],
            }
        )
    subnets.append(
        {
            "id": "sn-ext",
            "network_id": EXT,
            "cidr": "203.0.113.0/24",
            "ip_version": 4,
            "gateway_ip": "203.0.113.1",
        }
    )
    port_list.append(
        {
            "id": "r-gw",
            "network_id": EXT,
            "mac_address": "fa:16:3f:ff:ff:ff",
            "fixed_ips": [{"subnet_id": "sn-ext", "ip_address": "203.0.113.2"}],
            "binding:host_id": "net1",
            "binding:vif_type": "bridge",
            "status": "ACTIVE",
            "device_owner": "network:router_gateway",
            "device_id": ROUTER,
            "security_groups": [],
        }
    )
    for i in range(ports):
        n = i % networks
        block = ipaddress.ip_network(subnets[n]["cidr"])
        ip = str(block[10 + i // networks])
        port: dict[str, Any] = {
            "id": f"p-{i}",
            "name": f"vm{i}",
            "network_id": f"net-{n}",
            "mac_address": f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
            "fixed_ips": [{"subnet_id": f"sn-{n}", "ip_address": ip}],
            "binding:host_id": f"hv{i % 4}",
            "binding:vif_type": "bridge",
            "status": "ACTIVE",
            "security_groups": [f"sg-{i % groups}"],
            "port_security_enabled": True,
            "allowed_address_pairs": [],
        }
        if i % 10 == 0:
            port["allowed_address_pairs"] = [{"ip_address": str(block[-2 - i // networks])}]
            if len(fips) < 250:
                fips.append(
                    {
                        "id": f"fip-{i}",
                        "floating_ip_address": f"203.0.113.{10 + len(fips)}",
                        "fixed_ip_address": ip,
                        "port_id": f"p-{i}",
                        "router_id": ROUTER,
                    }
                )
        port_list.append(port)
    groups_list = [
        {"id": f"sg-{g}", "name": f"g{g}", "security_group_rules": rules(f"sg-{g}")}
        for g in range(groups)
    ]
    routers = [
        {
            "id": ROUTER,
            "name": "r1",
            "external_gateway_info": {"network_id": EXT, "enable_snat": True},
        }
    ]
    return {
        "networks": nets,
        "subnets": subnets,
        "ports": port_list,
        "groups": groups_list,
        "routers": routers,
        "floating_ips": fips,
        "vteps": {f"hv{h}": f"192.0.2.{h + 1}" for h in range(4)} | {"net1": "192.0.2.9"},
        "system_owned": [p["id"] for p in port_list if p["id"].startswith("r-")],
    }


def timed(fn: Callable[[], object], rounds: int) -> dict[str, float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--networks", type=int, default=10)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    data = build(args.ports, args.networks, args.groups)
    model: NetworkModel = from_neutron(**data)
    ip = {pid: p.addresses[0] for pid, p in model.ports.items()}
    g = args.groups
    same = f"p-{g * args.networks}"  # same network and group as p-0
    other = "p-1"  # the next network, another group
    checks = {
        "same_net": lambda: trace_from_port(model, "p-0", Packet(ip[same], "icmp")),
        "routed": lambda: trace_from_port(model, "p-0", Packet(ip[other], "tcp", dport=22)),
        "refused": lambda: trace_from_port(model, "p-0", Packet(ip[other], "tcp", dport=80)),
        "fip_in": lambda: trace_from_external(
            model, EXT, "203.0.113.1", Packet("203.0.113.10", "udp", dport=53)
        ),
    }
    verdicts = {name: fn().verdict for name, fn in checks.items()}
    assert verdicts == {
        "same_net": "delivered",
        "routed": "delivered",
        "refused": "dropped",
        "fip_in": "delivered",
    }, verdicts
    result: dict[str, Any] = {
        "ports": args.ports,
        "networks": args.networks,
        "groups": args.groups,
        "rounds": args.rounds,
        "model": timed(lambda: from_neutron(**data), max(5, args.rounds // 10)),
    }
    for name, fn in checks.items():
        result[name] = timed(fn, args.rounds)
    json.dump(result, sys.stdout, indent=2)
    print(file=sys.stdout)
    print(
        " ".join(f"{k}={v['median_ms']}ms" for k, v in result.items() if isinstance(v, dict)),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
