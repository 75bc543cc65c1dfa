"""Every write is in the change log: a randomized sequence of API calls, and after each call
every row it created, changed or deleted must be covered by a change-log entry of that call.

Agents and caches converge from the change log (DESIGN.md), so a write that forgets to record
its change (``Tx.created``/``updated``/``deleted``) leaves hosts and caches stale without any
other test noticing; an entry naming the wrong network wakes the wrong hosts, so each entry
must also be of a known kind and name its row's own network and project. Each call is
bracketed by a snapshot of every resource table (whole rows, keyed by primary key); a row of
a child table (a port's fixed IPs, a subnet's pools, a tag, ...) belongs to its parent
resource. A created top-level row needs a ``create`` entry, a deleted one a ``delete`` entry,
anything else an entry of any op for its resource. Failed calls (4xx) are part of the
sequence too: they must change nothing unrecorded either.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from neutrino.store.changes import kind_of
from neutrino.store.uow import Store
from tests.api.test_agent_api import register
from tests.conftest import Caller

Owner = tuple[str, str]  # (change-log resource type, resource id)

# table -> (resource type or None: read from the row, how to find the owning resource id)
TOP: dict[str, str] = {
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "security_groups": "security_group",
    "security_group_rules": "security_group_rule",
    "default_security_group_rules": "default_security_group_rule",
    "routers": "router",
    "floating_ips": "floatingip",
    "rbac_policies": "rbac_policy",
    "subnetpools": "subnetpool",
    "address_scopes": "address_scope",
    "address_groups": "address_group",
    "qos_policies": "qos_policy",
    "port_forwardings": "port_forwarding",
    "trunks": "trunk",
    "network_segments": "segment",
    "flavors": "flavor",
    "serviceprofiles": "service_profile",
    "network_segment_ranges": "network_segment_range",
}
CHILD: dict[str, tuple[str, str]] = {
    "subnet_allocation_pools": ("subnet", "subnet_id"),
    "subnet_dns_nameservers": ("subnet", "subnet_id"),
    "subnet_host_routes": ("subnet", "subnet_id"),
    "ip_allocations": ("port", "port_id"),
    "port_security_groups": ("port", "port_id"),
    "port_allowed_address_pairs": ("port", "port_id"),
    "port_extra_dhcp_opts": ("port", "port_id"),
    "port_bindings": ("port", "port_id"),  # a port's inactive bindings
    "router_ports": ("router", "router_id"),
    "router_routes": ("router", "router_id"),
    "router_l3_bindings": ("router", "router_id"),
    "default_security_groups": ("security_group", "security_group_id"),
    "segment_allocations": ("network", "network_id"),
    "quotas": ("quota", "project_id"),
    "subnetpool_prefixes": ("subnetpool", "subnetpool_id"),
    "address_group_addresses": ("address_group", "address_group_id"),
    "qos_bandwidth_limit_rules": ("qos_policy", "qos_policy_id"),
    "qos_dscp_marking_rules": ("qos_policy", "qos_policy_id"),
    "qos_minimum_bandwidth_rules": ("qos_policy", "qos_policy_id"),
    "qos_minimum_packet_rate_rules": ("qos_policy", "qos_policy_id"),
    "trunk_subports": ("trunk", "trunk_id"),
    "flavorserviceprofilebindings": ("flavor", "flavor_id"),
    "subnet_service_types": ("subnet", "subnet_id"),
    # a project's auto-allocated network: made and removed with it
    "auto_allocated_topologies": ("network", "network_id"),
}
# a top-level row made or removed with its parent (a group's own rules, created with it and
# cascaded with it) is covered by the parent's create/delete entry
WITH_PARENT: dict[str, tuple[str, str]] = {
    "security_group_rules": ("security_group", "security_group_id"),
}
# not resources: the log itself, identity (Keystone has its own revocation events), agents'
# own reports, the web UI's jobs (progress of its forms, not Neutron objects), DHCP
# scheduling (what it changes on hosts are the DHCP ports, which are logged)
NOT_LOGGED = {
    "changes",
    "domains",
    "projects",
    "users",
    "roles",
    "role_assignments",
    "revocations",
    "agents",
    "web_jobs",
    "dhcp_bindings",
    "kernel_checks",  # a trace's verify in flight (service.kernel_checks)
}

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


# one body per QoS rule type, used for its create and for its update
QOS_RULE_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("bandwidth_limit", {"max_kbps": 1000, "direction": "egress"}),
    ("dscp_marking", {"dscp_mark": 26}),
    ("minimum_bandwidth", {"min_kbps": 500, "direction": "egress"}),
    ("minimum_packet_rate", {"min_kpps": 100, "direction": "any"}),
]


def snapshot(store: Store) -> Snapshot:
    out: Snapshot = {}
    with store.read() as conn:
        for table in [*TOP, *CHILD, "tags"]:
            rows = [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table}"))]
            out[table] = {_key(table, r): r for r in rows}
    return out


def _key(table: str, row: dict[str, Any]) -> tuple[Any, ...]:
    if table in TOP:
        return (row["id"],)
    return tuple(
        sorted(
            (k, str(v))
            for k, v in row.items()
            if table != "segment_allocations" or k != "network_id"
        )
    )


def _owners(table: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Owner]:
    rows = [r for r in (before, after) if r is not None]
    if table == "tags":
        return [(r["resource_type"].rstrip("s"), r["resource_id"]) for r in rows]
    kind, column = CHILD[table]
    return [(kind, r[column]) for r in rows if r[column] is not None]


def unrecorded(before: Snapshot, after: Snapshot, log: set[tuple[str, str, str]]) -> list[str]:
    """What changed between the snapshots without a matching change-log entry."""
    logged = {(kind, rid) for kind, rid, _op in log}
    missing: list[str] = []
    for table, rows_after in after.items():
        rows_before = before[table]
        for key in rows_before.keys() | rows_after.keys():
            old, new = rows_before.get(key), rows_after.get(key)
            if old == new:
                continue
            if table in TOP:
                kind, rid = TOP[table], key[0]
                op = "create" if old is None else "delete" if new is None else None
                ok = (kind, rid, op) in log if op else (kind, rid) in logged
                if not ok and op and table in WITH_PARENT:
                    parent, column = WITH_PARENT[table]
                    ok = (parent, (old or new or {})[column], op) in log
                if not ok:
                    missing.append(f"{table} {rid}: {op or 'update'} not logged ({old} -> {new})")
            elif not any(owner in logged for owner in _owners(table, old, new)):
                missing.append(f"{table} {key}: changed, no entry for {_owners(table, old, new)}")
    return missing


def log_since(store: Store, revision: int) -> set[tuple[str, str, str]]:
    """(type, id, op) of the entries after ``revision``; a quota has no id of its own, so its
    entries name the project in ``project_id`` (service/quotas.py)."""
    return {(t, p if t == "quota" else i, op) for t, i, op, p, _ in entries_since(store, revision)}


def entries_since(store: Store, revision: int) -> list[tuple[str, str, str, str, str | None]]:
    with store.read() as conn:
        return [
            tuple(r)  # type: ignore[misc]
            for r in conn.execute(
                text(
                    "SELECT resource_type, resource_id, op, project_id, network_id FROM changes "
                    "WHERE revision > :r"
                ),
                {"r": revision},
            )
        ]


def misnamed(before: Snapshot, after: Snapshot, entries: list[Any]) -> list[str]:
    """Entries of an unknown kind, or naming another network than their row's (the network
    whose hosts must wake) or another project."""
    wrong: list[str] = []
    for rtype, rid, op, project, network in entries:
        kind = kind_of(rtype, op)
        if kind is None:
            wrong.append(f"unknown kind {rtype} {op}")
            continue
        table = kind.resource.table
        row = after.get(table, {}).get((rid,)) or before.get(table, {}).get((rid,))
        if row is None:
            continue  # made and removed within the call (a floating IP that failed)
        column = kind.resource.network_column
        if column is not None and row[column] != network:
            wrong.append(f"{rtype} {rid} {op}: network {network}, row has {row[column]}")
        if kind.resource.owned and row["project_id"] != project:
            wrong.append(f"{rtype} {rid} {op}: project {project}, row has {row['project_id']}")
    return wrong


class World:
    """The resources made so far, and the random calls that use them."""

    def __init__(self, api: Caller, member: Caller, rng: random.Random) -> None:
        self.api, self.member, self.rng = api, member, rng
        self.ids: dict[str, list[str]] = {
            k: []
            for k in (
                "networks",
                "subnets",
                "ports",
                "security_groups",
                "security_group_rules",
                "routers",
                "floatingips",
                "default_security_group_rules",
                "subnetpools",
                "address_scopes",
                "address_groups",
                "qos_policies",
                "qos_rules",
                "port_forwardings",  # "<floating IP id>/<forwarding id>"
                "trunks",
                "flavors",
                "service_profiles",
                "segment_ranges",
            )
        }
        self.cidr = 0
        self.external = ""
        self.routed_ports: list[str] = []
        self.free_fips: list[str] = []
        self.service: Caller | None = None  # the service role: port bindings' writer
        self.vm_ports: list[str] = []

    def pick(self, kind: str) -> str:
        return self.rng.choice(self.ids[kind]) if self.ids[kind] else "missing-id"

    def caller(self) -> Caller:
        return self.api if self.rng.random() < 0.3 else self.member

    def created(self, kind: str, member: str, r: Any) -> None:
        if r.status_code == 201:
            self.ids[kind].append(r.json()[member]["id"])

    def deleted(self, kind: str, rid: str, r: Any) -> None:
        if r.status_code == 204 and rid in self.ids[kind]:
            self.ids[kind].remove(rid)

    # --- the calls ---------------------------------------------------------------------

    def network_create(self) -> None:
        self.created(
            "networks",
            "network",
            self.member.post("/v2.0/networks", {"network": {"name": f"n{self.rng.randrange(99)}"}}),
        )

    def network_update(self) -> None:
        body = self.rng.choice(
            [
                {"name": "renamed"},
                {"mtu": self.rng.choice([1400, 1450])},
                {"admin_state_up": self.rng.random() < 0.5},
                {"shared": self.rng.random() < 0.5},
            ]
        )  # a wildcard policy
        self.caller().put(f"/v2.0/networks/{self.pick('networks')}", {"network": body})

    def network_delete(self) -> None:
        nid = self.pick("networks")
        self.deleted("networks", nid, self.member.delete(f"/v2.0/networks/{nid}"))

    def subnet_create(self) -> None:
        self.cidr += 1
        if self.rng.random() < 0.7:
            body = {
                "ip_version": 4,
                "cidr": f"192.0.2.{(self.cidr % 16) * 16}/28",
                "dns_nameservers": ["192.0.2.53"],
            }
        else:
            body = {
                "ip_version": 6,
                "cidr": f"2001:db8:{self.cidr:x}::/64",
                "ipv6_ra_mode": "slaac",
                "ipv6_address_mode": "slaac",
            }
        if self.rng.random() < 0.3:  # from a pool instead (it may be an IPv6 pool: a 400)
            body = {"ip_version": 4, "subnetpool_id": self.pick("subnetpools"), "prefixlen": 28}
        body["network_id"] = self.pick("networks")
        self.created("subnets", "subnet", self.member.post("/v2.0/subnets", {"subnet": body}))

    def subnet_update(self) -> None:
        body = self.rng.choice(
            [
                {"name": "s"},
                {"dns_nameservers": []},
                {"host_routes": [{"destination": "198.51.100.0/24", "nexthop": "192.0.2.1"}]},
                {"enable_dhcp": self.rng.random() < 0.5},
                {"service_types": self.rng.choice([[], ["compute:nova"]])},
            ]
        )
        self.member.put(f"/v2.0/subnets/{self.pick('subnets')}", {"subnet": body})

    def subnet_delete(self) -> None:
        sid = self.pick("subnets")
        self.deleted("subnets", sid, self.member.delete(f"/v2.0/subnets/{sid}"))

    def port_create(self) -> None:
        body: dict[str, Any] = {"network_id": self.pick("networks")}
        if self.rng.random() < 0.3:
            body["extra_dhcp_opts"] = [{"opt_name": "mtu", "opt_value": "1400"}]
        vm = self.rng.random() < 0.4  # a VM's port: it may have several bindings
        if vm:
            body["device_owner"] = "compute:nova"
        r = self.member.post("/v2.0/ports", {"port": body})
        self.created("ports", "port", r)
        if vm and r.status_code == 201:
            self.vm_ports.append(r.json()["port"]["id"])

    def port_update(self) -> None:
        body = self.rng.choice(
            [
                {"name": "p"},
                {"security_groups": [self.pick("security_groups")]},
                {"security_groups": []},
                {"port_security_enabled": False},
                {"allowed_address_pairs": [{"ip_address": "203.0.113.9"}]},
                {"extra_dhcp_opts": [{"opt_name": "ntp-server", "opt_value": "192.0.2.123"}]},
                {"binding:host_id": self.rng.choice(["hv1", "hv2", ""])},
                {"mac_address": f"fa:16:3e:00:01:{self.rng.randrange(256):02x}"},
                {"fixed_ips": [{"subnet_id": self.pick("subnets")}]},
            ]
        )
        caller = self.api if "binding:host_id" in body else self.member
        caller.put(f"/v2.0/ports/{self.pick('ports')}", {"port": body})

    def port_delete(self) -> None:
        pid = self.pick("ports")
        self.deleted("ports", pid, self.member.delete(f"/v2.0/ports/{pid}"))

    def sg_create(self) -> None:
        self.created(
            "security_groups",
            "security_group",
            self.member.post("/v2.0/security-groups", {"security_group": {"name": "sg"}}),
        )

    def sg_update(self) -> None:
        self.member.put(
            f"/v2.0/security-groups/{self.pick('security_groups')}",
            {"security_group": {"name": "sg2", "description": "d"}},
        )

    def sg_delete(self) -> None:
        sid = self.pick("security_groups")
        self.deleted("security_groups", sid, self.member.delete(f"/v2.0/security-groups/{sid}"))

    def rule_create(self) -> None:
        body = {
            "security_group_id": self.pick("security_groups"),
            "direction": "ingress",
            "ethertype": "IPv4",
            "protocol": "tcp",
            "port_range_min": (low := self.rng.randrange(1, 1000)),
            "port_range_max": low,
        }
        if self.rng.random() < 0.4:
            body["remote_group_id"] = self.pick("security_groups")
        elif self.rng.random() < 0.3:
            body["remote_address_group_id"] = self.pick("address_groups")
        self.created(
            "security_group_rules",
            "security_group_rule",
            self.member.post("/v2.0/security-group-rules", {"security_group_rule": body}),
        )

    def rule_delete(self) -> None:
        rid = self.pick("security_group_rules")
        self.deleted(
            "security_group_rules", rid, self.member.delete(f"/v2.0/security-group-rules/{rid}")
        )

    def default_rule(self) -> None:
        if self.rng.random() < 0.6:
            self.created(
                "default_security_group_rules",
                "default_security_group_rule",
                self.api.post(
                    "/v2.0/default-security-group-rules",
                    {
                        "default_security_group_rule": {
                            "direction": "ingress",
                            "ethertype": "IPv4",
                            "protocol": "udp",
                            "port_range_min": self.rng.randrange(1, 999),
                            "port_range_max": 999,
                        }
                    },
                ),
            )
        else:
            rid = self.pick("default_security_group_rules")
            self.deleted(
                "default_security_group_rules",
                rid,
                self.api.delete(f"/v2.0/default-security-group-rules/{rid}"),
            )

    def router_create(self) -> None:
        body: dict[str, Any] = {"name": "r"}
        if self.rng.random() < 0.5:
            body["external_gateway_info"] = {"network_id": self.external}
        self.created("routers", "router", self.member.post("/v2.0/routers", {"router": body}))

    def router_update(self) -> None:
        body = self.rng.choice(
            [
                {"name": "r2"},
                {"external_gateway_info": {}},
                {"external_gateway_info": {"network_id": self.external}},
                {"routes": [{"destination": "198.51.100.0/24", "nexthop": "192.0.2.30"}]},
                {"routes": []},
                {"admin_state_up": self.rng.random() < 0.5},
            ]
        )
        self.member.put(f"/v2.0/routers/{self.pick('routers')}", {"router": body})

    def router_interface(self) -> None:
        verb = self.rng.choice(["add", "remove"])
        body = (
            {"subnet_id": self.pick("subnets")}
            if self.rng.random() < 0.7
            else {"port_id": self.pick("ports")}
        )
        self.member.put(f"/v2.0/routers/{self.pick('routers')}/{verb}_router_interface", body)

    def router_delete(self) -> None:
        rid = self.pick("routers")
        self.deleted("routers", rid, self.member.delete(f"/v2.0/routers/{rid}"))

    def fip(self) -> None:
        choice = self.rng.randrange(3)
        if choice == 0:
            body: dict[str, Any] = {"floating_network_id": self.external}
            if self.rng.random() < 0.5:
                body["port_id"] = self.pick("ports")
            self.created(
                "floatingips",
                "floatingip",
                self.member.post("/v2.0/floatingips", {"floatingip": body}),
            )
        elif choice == 1:
            port = self.pick("ports") if self.rng.random() < 0.5 else None
            self.member.put(
                f"/v2.0/floatingips/{self.pick('floatingips')}", {"floatingip": {"port_id": port}}
            )
        else:
            fid = self.pick("floatingips")
            self.deleted("floatingips", fid, self.member.delete(f"/v2.0/floatingips/{fid}"))

    def forwardable(self) -> None:
        """A routed network of the member's with ports and free floating IPs, so that port
        forwardings can be made (and then broken by the random calls)."""
        net = self.member.network()
        subnet = self.member.subnet(net["id"], "198.51.100.0/24")
        router = self.member.create(
            "routers", "router", external_gateway_info={"network_id": self.external}
        )
        self.member.put(
            f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]}
        )
        self.ids["networks"].append(net["id"])
        self.ids["subnets"].append(subnet["id"])
        self.ids["routers"].append(router["id"])
        for _ in range(3):
            port = self.member.port(net["id"])["id"]
            self.ids["ports"].append(port)
            self.routed_ports.append(port)
            r = self.member.post(
                "/v2.0/floatingips", {"floatingip": {"floating_network_id": self.external}}
            )
            self.created("floatingips", "floatingip", r)
            self.free_fips.append(r.json()["floatingip"]["id"])

    def migratable(self) -> None:
        """VM ports (compute owner) on the routed network, for the port bindings' calls."""
        net = self.ids["networks"][-1]
        for _ in range(3):
            port = self.member.port(net, device_owner="compute:nova")["id"]
            self.ids["ports"].append(port)
            self.vm_ports.append(port)

    def forwarding(self) -> None:
        match self.rng.randrange(5):
            case 0 | 1 | 2:
                fid, pid = self.pick("floatingips"), self.pick("ports")
                if self.rng.random() < 0.7 and self.free_fips:  # mostly ones that can work
                    fid = self.rng.choice(self.free_fips)
                    pid = self.rng.choice(self.routed_ports)
                found = self.member.get(f"/v2.0/ports/{pid}")
                ips = found.json()["port"]["fixed_ips"] if found.status_code == 200 else []
                body = {
                    "protocol": self.rng.choice(["tcp", "udp"]),
                    "internal_port_id": pid,
                    "internal_ip_address": ips[0]["ip_address"] if ips else "192.0.2.9",
                    "internal_port": self.rng.randrange(1, 20),
                    "external_port": self.rng.randrange(1, 20),
                }
                r = self.member.post(
                    f"/v2.0/floatingips/{fid}/port_forwardings", {"port_forwarding": body}
                )
                if r.status_code == 201:
                    self.ids["port_forwardings"].append(
                        f"{fid}/{r.json()['port_forwarding']['id']}"
                    )
            case 3:
                fid, _, pf = self.pick("port_forwardings").partition("/")
                body = self.rng.choice(
                    [{"description": "d"}, {"external_port": self.rng.randrange(1, 20)}]
                )
                self.member.put(
                    f"/v2.0/floatingips/{fid}/port_forwardings/{pf}", {"port_forwarding": body}
                )
            case _:
                key = self.pick("port_forwardings")
                fid, _, pf = key.partition("/")
                r = self.member.delete(f"/v2.0/floatingips/{fid}/port_forwardings/{pf}")
                self.deleted("port_forwardings", key, r)

    def tags(self) -> None:
        kind = self.rng.choice(
            [
                "networks",
                "subnets",
                "ports",
                "security_groups",
                "routers",
                "floatingips",
                "subnetpools",
                "trunks",
            ]
        )
        path = f"/v2.0/{kind.replace('_', '-')}/{self.pick(kind)}/tags"
        tag = self.rng.choice(["red", "blue"])
        match self.rng.randrange(4):
            case 0:
                self.member.put(f"{path}/{tag}")
            case 1:
                self.member.delete(f"{path}/{tag}")
            case 2:
                self.member.put(path, {"tags": ["green", tag]})
            case _:
                self.member.delete(path)

    def pool(self) -> None:
        pid = self.pick("subnetpools")
        match self.rng.randrange(6):
            case 0 | 1:
                body: dict[str, Any] = {"name": "p", "prefixes": [f"10.{self.cidr % 250}.0.0/16"]}
                if self.rng.random() < 0.3:
                    body["address_scope_id"] = self.pick("address_scopes")
                self.cidr += 1
                r = self.member.post("/v2.0/subnetpools", {"subnetpool": body})
                self.created("subnetpools", "subnetpool", r)
            case 2:
                body = self.rng.choice(
                    [{"name": "q"}, {"min_prefixlen": 12}, {"address_scope_id": None}]
                )
                self.member.put(f"/v2.0/subnetpools/{pid}", {"subnetpool": body})
            case 3:
                verb = self.rng.choice(["add", "remove"])
                body = {"prefixes": [f"172.{16 + self.rng.randrange(4)}.0.0/16"]}
                self.member.put(f"/v2.0/subnetpools/{pid}/{verb}_prefixes", body)
            case 4:
                self.deleted("subnetpools", pid, self.member.delete(f"/v2.0/subnetpools/{pid}"))
            case _:
                target = self.rng.choice([self.api.project_id, "*"])
                body = {
                    "object_type": "subnetpool",
                    "object_id": pid,
                    "action": "access_as_shared",
                    "target_tenant": target,
                }
                self.caller().post("/v2.0/rbac-policies", {"rbac_policy": body})

    def scope(self) -> None:
        sid = self.pick("address_scopes")
        match self.rng.randrange(3):
            case 0:
                body = {"name": "s", "ip_version": 4, "shared": self.rng.random() < 0.3}
                r = self.api.post("/v2.0/address-scopes", {"address_scope": body})
                self.created("address_scopes", "address_scope", r)
            case 1:
                body = {"name": "t"} if self.rng.random() < 0.5 else {"shared": True}
                self.api.put(f"/v2.0/address-scopes/{sid}", {"address_scope": body})
            case _:
                r = self.api.delete(f"/v2.0/address-scopes/{sid}")
                self.deleted("address_scopes", sid, r)

    def address_group(self) -> None:
        gid = self.pick("address_groups")
        url = f"/v2.0/address-groups/{gid}"
        cidr = f"198.51.100.{self.rng.randrange(0, 256, 64)}/26"
        match self.rng.randrange(6):
            case 0 | 1:
                body = {"name": "a", "addresses": [cidr]}
                r = self.member.post("/v2.0/address-groups", {"address_group": body})
                self.created("address_groups", "address_group", r)
            case 2:
                self.caller().put(url, {"address_group": {"name": "b"}})
            case 3:
                self.member.put(f"{url}/add_addresses", {"addresses": [cidr]})
            case 4:
                self.member.put(f"{url}/remove_addresses", {"addresses": [cidr]})
            case _:
                if self.rng.random() < 0.5:
                    body = {
                        "object_type": "address_group",
                        "object_id": gid,
                        "action": "access_as_shared",
                        "target_tenant": self.rng.choice([self.api.project_id, "*"]),
                    }
                    self.api.post("/v2.0/rbac-policies", {"rbac_policy": body})
                else:
                    self.deleted("address_groups", gid, self.member.delete(url))

    def qos(self) -> None:
        qid = self.pick("qos_policies")
        rules = f"/v2.0/qos/policies/{qid}/bandwidth_limit_rules"
        match self.rng.randrange(8):
            case 0:
                body = {"name": "q", "shared": self.rng.random() < 0.5}
                if self.rng.random() < 0.5:
                    body["project_id"] = self.member.project_id
                r = self.api.post("/v2.0/qos/policies", {"policy": body})
                self.created("qos_policies", "policy", r)
            case 1:
                body = self.rng.choice([{"name": "r"}, {"shared": True}, {"is_default": True}])
                self.api.put(f"/v2.0/qos/policies/{qid}", {"policy": body})
            case 2:
                r = self.api.delete(f"/v2.0/qos/policies/{qid}")
                self.deleted("qos_policies", qid, r)
            case 3:
                kind, body = self.rng.choice(QOS_RULE_BODIES)
                r = self.api.post(rules.replace("bandwidth_limit", kind), {f"{kind}_rule": body})
                if r.status_code == 201:
                    self.ids["qos_rules"].append(f"{qid}/{kind}/{r.json()[f'{kind}_rule']['id']}")
            case 4 | 5:
                kind = self.rng.choice(["networks", "ports", "floatingips"])
                member = kind.rstrip("s")
                value = qid if self.rng.random() < 0.7 else None
                self.caller().put(
                    f"/v2.0/{kind}/{self.pick(kind)}", {member: {"qos_policy_id": value}}
                )
            case 6:
                path, kind = self._rule()
                change = dict(QOS_RULE_BODIES)[kind]
                self.api.put(path, {f"{kind}_rule": change})
            case _:
                self.api.delete(self._rule()[0])

    def _rule(self) -> tuple[str, str]:
        picked = self.pick("qos_rules")
        if picked.count("/") != 2:  # the pick's placeholder for "none made yet"
            return f"/v2.0/qos/policies/{picked}/bandwidth_limit_rules/x", "bandwidth_limit"
        qid, kind, rid = picked.split("/")
        return f"/v2.0/qos/policies/{qid}/{kind}_rules/{rid}", kind

    def trunk(self) -> None:
        tid = self.pick("trunks")
        sub = {"port_id": self.pick("ports"), "segmentation_type": "vlan"}
        sub["segmentation_id"] = self.rng.randrange(1, 20)
        match self.rng.randrange(6):
            case 0 | 1:
                body: dict[str, Any] = {"port_id": self.pick("ports")}
                if self.rng.random() < 0.5:
                    body["sub_ports"] = [sub]
                r = self.member.post("/v2.0/trunks", {"trunk": body})
                self.created("trunks", "trunk", r)
            case 2:
                body = self.rng.choice([{"name": "t"}, {"admin_state_up": self.rng.random() < 0.7}])
                self.member.put(f"/v2.0/trunks/{tid}", {"trunk": body})
            case 3:
                self.member.put(f"/v2.0/trunks/{tid}/add_subports", {"sub_ports": [sub]})
            case 4:
                body = {"sub_ports": [{"port_id": sub["port_id"]}]}
                self.member.put(f"/v2.0/trunks/{tid}/remove_subports", body)
            case _:
                self.deleted("trunks", tid, self.member.delete(f"/v2.0/trunks/{tid}"))

    def flavor(self) -> None:
        fid, sid = self.pick("flavors"), self.pick("service_profiles")
        driver = "neutron.services.l3_router.service_providers.single_node.SingleNodeDriver"
        match self.rng.randrange(7):
            case 0:
                body = {"name": "f", "service_type": "L3_ROUTER_NAT"}
                self.created("flavors", "flavor", self.api.post("/v2.0/flavors", {"flavor": body}))
            case 1:
                body = {"driver": driver, "enabled": self.rng.random() < 0.8}
                r = self.api.post("/v2.0/service_profiles", {"service_profile": body})
                self.created("service_profiles", "service_profile", r)
            case 2:
                body = {"service_profile": {"id": sid}}
                self.api.post(f"/v2.0/flavors/{fid}/service_profiles", body)
            case 3:
                self.api.delete(f"/v2.0/flavors/{fid}/service_profiles/{sid}")
            case 4:
                self.api.put(f"/v2.0/flavors/{fid}", {"flavor": {"enabled": True, "name": "g"}})
                self.api.put(
                    f"/v2.0/service_profiles/{sid}", {"service_profile": {"metainfo": "m"}}
                )
            case 5:
                r = self.member.post("/v2.0/routers", {"router": {"flavor_id": fid}})
                self.created("routers", "router", r)
            case _:
                kind, path = self.rng.choice(
                    [
                        ("flavors", f"/v2.0/flavors/{fid}"),
                        ("service_profiles", f"/v2.0/service_profiles/{sid}"),
                    ]
                )
                self.deleted(kind, fid if kind == "flavors" else sid, self.api.delete(path))

    def segment_range(self) -> None:
        """The admin's ranges: made, resized, tagged, deleted (member networks draw from
        them meanwhile)."""
        rid = self.pick("segment_ranges")
        path = f"/v2.0/network_segment_ranges/{rid}"
        lo = 1000 + 10 * self.rng.randrange(20)
        match self.rng.randrange(5):
            case 0 | 1:
                body: dict[str, Any] = {"network_type": "vxlan", "minimum": lo, "maximum": lo + 3}
                if self.rng.random() < 0.6:
                    body |= {"shared": False, "project_id": self.member.project_id}
                r = self.api.post("/v2.0/network_segment_ranges", {"network_segment_range": body})
                self.created("segment_ranges", "network_segment_range", r)
            case 2:
                body = self.rng.choice([{"name": "r"}, {"minimum": lo, "maximum": lo + 5}])
                self.api.put(path, {"network_segment_range": body})
            case 3:
                self.api.put(f"{path}/tags/{self.rng.choice(['red', 'blue'])}")
            case _:
                self.deleted("segment_ranges", rid, self.api.delete(path))

    def auto_allocate(self) -> None:
        """Get-me-a-network: built (or refused: no default pool/network yet), deleted."""
        path = f"/v2.0/auto-allocated-topology/{self.member.project_id}"
        if self.rng.random() < 0.7:
            self.member.get(path)
        else:
            self.member.delete(path)

    def port_bind(self) -> None:
        """A port moves host: a trunk's sub-ports follow their parent."""
        host = self.rng.choice(["hv1", "hv2", ""])
        body = {"port": {"binding:host_id": host}}
        self.api.put(f"/v2.0/ports/{self.pick('ports')}", body)

    def port_binding(self) -> None:
        """A live migration's steps on a port: bind it on a host, switch, drop a binding."""
        if self.service is None:
            self.service = self.api.as_role("service")
        port = self.pick("ports")
        if self.vm_ports and self.rng.random() < 0.8:
            port = self.rng.choice(self.vm_ports)  # maybe deleted since: a 404 then
        base = f"/v2.0/ports/{port}/bindings"
        host = self.rng.choice(["hv1", "hv2"])
        match self.rng.randrange(4):
            case 0 | 1:
                self.service.post(base, {"binding": {"host": host}})
            case 2:  # mostly a host that has an inactive binding: a switch that happens
                found = self.service.get(base)
                listed = found.json()["bindings"] if found.status_code == 200 else []
                inactive = [b["host"] for b in listed if b["status"] == "INACTIVE"]
                if inactive and self.rng.random() < 0.8:
                    host = self.rng.choice(inactive)
                self.service.put(f"{base}/{host}/activate")
            case _:
                self.service.delete(f"{base}/{host}")

    def quota(self) -> None:
        path = f"/v2.0/quotas/{self.member.project_id}"
        if self.rng.random() < 0.7:
            self.api.put(path, {"quota": {"port": self.rng.randrange(50, 500)}})
        else:
            self.api.delete(path)


def _calls(world: World) -> list[tuple[int, Callable[[], None]]]:
    w = world
    return [
        (6, w.network_create),
        (3, w.network_update),
        (2, w.network_delete),
        (6, w.subnet_create),
        (3, w.subnet_update),
        (2, w.subnet_delete),
        (8, w.port_create),
        (8, w.port_update),
        (3, w.port_delete),
        (3, w.sg_create),
        (2, w.sg_update),
        (1, w.sg_delete),
        (4, w.rule_create),
        (2, w.rule_delete),
        (2, w.default_rule),
        (3, w.router_create),
        (4, w.router_update),
        (5, w.router_interface),
        (1, w.router_delete),
        (5, w.fip),
        (8, w.forwarding),
        (4, w.tags),
        (2, w.quota),
        (5, w.pool),
        (2, w.scope),
        (4, w.address_group),
        (5, w.qos),
        (6, w.trunk),
        (3, w.port_bind),
        (10, w.port_binding),
        (4, w.flavor),
        (3, w.segment_range),
        (2, w.auto_allocate),
    ]


def test_every_table_is_classified() -> None:
    """A new table must say how its writes reach the change log (or why they need not)."""
    from neutrino.store.models import Base

    known = {*TOP, *CHILD, *WITH_PARENT, *NOT_LOGGED, "tags"}
    assert set(Base.metadata.tables) - known == set()


@pytest.mark.parametrize("seed", [1, 2])
def test_every_write_is_in_the_change_log(api: Caller, store: Store, seed: int) -> None:
    member = api.as_member()
    r = api.post(
        "/agent/v1/agents",
        {
            "agent": {
                "host": "h",
                "agent_type": "L2 agent",
                "configurations": {"qos_rule_types": {"bandwidth_limit": []}},
            }
        },
    )
    assert r.status_code == 200, r.text  # an agent enforcing bandwidth limits: rules allowed
    ext = api.network(
        name="public", **{"router:external": True, "shared": True, "is_default": True}
    )
    api.subnet(ext["id"], "203.0.113.0/24")
    world = World(api, member, random.Random(seed))
    world.external = ext["id"]
    world.forwardable()
    world.migratable()
    register(api, "hv1", vlan_unavailable="no 8021q")  # sub-ports fail to bind here
    register(api, "hv2", trunk_segmentation_types=["vlan"])
    calls = _calls(world)
    weights = [w for w, _ in calls]
    problems: list[str] = []
    changed_calls = 0
    for step in range(160):
        ((name, call),) = [(c.__name__, c) for _, c in world.rng.choices(calls, weights)]
        before, revision = snapshot(store), store.current_revision()
        call()
        after = snapshot(store)
        changed_calls += before != after
        entries = entries_since(store, revision)
        problems += [
            f"step {step} {name}: {p}"
            for p in unrecorded(before, after, log_since(store, revision))
            + misnamed(before, after, entries)
        ]
    assert changed_calls > 60  # the sequence did write, or this test proves nothing
    assert problems == [], "\n".join(p[:900] for p in problems)
