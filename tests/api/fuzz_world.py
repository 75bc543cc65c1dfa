"""What the fuzz tests (``test_fuzz.py``, ``test_schemathesis.py``) run against: a live server
holding a few real resources of every kind, an admin token and a member's token."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import ADMIN_PASSWORD


def token(base: str, user: dict[str, Any], password: str, project: dict[str, Any]) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {**user, "password": password}},
            },
            "scope": {"project": project},
        }
    }
    r = httpx.post(base + "/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"]


class World:
    """Tokens, and real ids by kind (a collection such as ``networks``, or a path parameter
    name such as ``project_id``), made through the API itself."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._client: httpx.Client | None = None
        self.admin = token(
            base,
            {"name": "admin", "domain": {"name": "Default"}},
            ADMIN_PASSWORD,
            {"name": "admin", "domain": {"name": "Default"}},
        )
        suffix = uuid.uuid4().hex[:8]
        project = self._post("/v3/projects", "project", {"name": f"p-{suffix}"})
        user = self._post("/v3/users", "user", {"name": f"u-{suffix}", "password": "pw"})
        roles = {r["name"]: r["id"] for r in self._call("GET", "/v3/roles")["roles"]}
        self._call("PUT", f"/v3/projects/{project}/users/{user}/roles/{roles['member']}")
        self.member = token(base, {"id": user}, "pw", {"id": project})
        # Keystone writes in the fuzz aim at a victim, never at the callers or shared roles.
        victim_project = self._post("/v3/projects", "project", {"name": f"vp-{suffix}"})
        victim = self._post("/v3/users", "user", {"name": f"vu-{suffix}", "password": "pw"})
        victim_role = self._post("/v3/roles", "role", {"name": f"vr-{suffix}"})
        self._call("PUT", f"/v3/projects/{victim_project}/users/{victim}/roles/{victim_role}")
        self.victim = token(base, {"id": victim}, "pw", {"id": victim_project})
        self.ids: dict[str, list[str]] = {
            "project_id": [victim_project],
            "user_id": [victim],
            "role_id": [victim_role],
            "domain_id": ["default"],
        }
        self._service_role(base, roles["service"])
        self._networking(self.admin, "192.0.2.0/26")
        self._networking(self.member, "192.0.2.64/26")
        self._external()
        self._qos()
        self._bindings()

    def _service_role(self, base: str, role: str) -> None:
        """The admin holds the ``service`` role too (a fresh token), so the fuzz gets past the
        port bindings' policy (their writers are the service role's alone) into the service."""
        r = httpx.get(
            base + "/v3/auth/tokens",
            headers={"X-Auth-Token": self.admin, "X-Subject-Token": self.admin},
        )
        assert r.status_code == 200, r.text
        found = r.json()["token"]
        self._call(
            "PUT", f"/v3/projects/{found['project']['id']}/users/{found['user']['id']}/roles/{role}"
        )
        self.admin = token(
            base,
            {"name": "admin", "domain": {"name": "Default"}},
            ADMIN_PASSWORD,
            {"name": "admin", "domain": {"name": "Default"}},
        )

    def replenish(self, client: httpx.Client) -> None:
        """More of the networking resources, for the ids the fuzz has deleted or broken by
        now; a create the fuzz made impossible (a quota set to 0, say) is skipped. Sent
        through the fuzz's own ``client``, so that its connection never idles meanwhile."""
        self._client = client
        try:
            for tok, cidr in ((self.admin, "192.0.2.0/26"), (self.member, "192.0.2.64/26")):
                try:
                    self._networking(tok, cidr)
                except AssertionError:
                    continue
        finally:
            self._client = None
        for ids in self.ids.values():
            del ids[:-4]  # the newest few of each kind

    def _networking(self, tok: str, cidr: str) -> None:
        net = self._post("/v2.0/networks", "network", {"name": "n"}, tok)
        subnet = self._post(
            "/v2.0/subnets", "subnet", {"network_id": net, "cidr": cidr, "ip_version": 4}, tok
        )
        port = self._post("/v2.0/ports", "port", {"network_id": net}, tok)
        router = self._post("/v2.0/routers", "router", {"name": "r"}, tok)
        group = self._post("/v2.0/security-groups", "security_group", {"name": "g"}, tok)
        rule = self._post(
            "/v2.0/security-group-rules",
            "security_group_rule",
            {
                "security_group_id": group,
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 22,
                "port_range_max": 22,
            },
            tok,
        )
        self._call("PUT", f"/v2.0/networks/{net}/tags/t1", tok=tok)
        scope = self._post("/v2.0/address-scopes", "address_scope", {"ip_version": 4}, tok)
        pool = self._post(
            "/v2.0/subnetpools",
            "subnetpool",
            {"name": "sp", "prefixes": ["10.0.0.0/8"], "default_prefixlen": 24},
            tok,
        )
        pool_net = self._post("/v2.0/networks", "network", {"name": "pn"}, tok)
        self._post(
            "/v2.0/subnets",
            "subnet",
            {"network_id": pool_net, "ip_version": 4, "subnetpool_id": pool},
            tok,
        )
        parent = self._post("/v2.0/ports", "port", {"network_id": net}, tok)
        child = self._post("/v2.0/ports", "port", {"network_id": net}, tok)
        sub = {"port_id": child, "segmentation_type": "vlan", "segmentation_id": 10}
        trunk = self._post("/v2.0/trunks", "trunk", {"port_id": parent, "sub_ports": [sub]}, tok)
        segment = self._post(
            "/v2.0/segments", "segment", {"network_id": net, "network_type": "vxlan"}
        )
        span = 100_000 + uuid.uuid4().int % 1_000_000 * 16  # one world per caller: no overlap
        segment_range = self._post(
            "/v2.0/network_segment_ranges",
            "network_segment_range",
            {"network_type": "vxlan", "minimum": span, "maximum": span + 10},
        )
        address_group = self._post(
            "/v2.0/address-groups", "address_group", {"addresses": ["198.51.100.0/28"]}, tok
        )
        flavor = self._post("/v2.0/flavors", "flavor", {"service_type": "L3_ROUTER_NAT"})
        profile = self._post("/v2.0/service_profiles", "service_profile", {"metainfo": "m"})
        for kind, rid in (
            ("flavors", flavor),
            ("flavor_id", flavor),
            ("service_profiles", profile),
            ("profile_id", profile),
            ("trunks", trunk),
            ("trunk_id", trunk),
            ("segments", segment),
            ("network_segment_ranges", segment_range),
            ("rid", trunk),
            ("subnetpools", pool),
            ("pool_id", pool),
            ("address-scopes", scope),
            ("address-groups", address_group),
            ("group_id", address_group),
            ("networks", net),
            ("subnets", subnet),
            ("ports", port),
            ("routers", router),
            ("security-groups", group),
            ("security-group-rules", rule),
            ("rid", net),
            ("rid", port),
            ("router_id", router),
        ):
            self.ids.setdefault(kind, []).append(rid)

    def _external(self) -> None:
        """An external network with a floating IP, and the admin's router gatewayed to it."""
        net = self._post("/v2.0/networks", "network", {"name": "ext", "router:external": True})
        self._post(
            "/v2.0/subnets",
            "subnet",
            {"network_id": net, "cidr": "203.0.113.0/24", "ip_version": 4},
        )
        router = self.ids["routers"][0]
        self._call(
            "PUT",
            f"/v2.0/routers/{router}",
            {"router": {"external_gateway_info": {"network_id": net}}},
        )
        self._call(
            "PUT",
            f"/v2.0/routers/{router}/add_router_interface",
            {"subnet_id": self.ids["subnets"][0]},
        )
        fip = self._post(
            "/v2.0/floatingips",
            "floatingip",
            {"floating_network_id": net, "port_id": self.ids["ports"][0]},
        )
        self.ids.update({"external-networks": [net], "floatingips": [fip]})
        self.ids["rid"].append(fip)
        # a second floating IP forwarding a port to another port of the same network
        target = self._call(
            "POST", "/v2.0/ports", {"port": {"network_id": self.ids["networks"][0]}}
        )["port"]
        forwarded = self._post("/v2.0/floatingips", "floatingip", {"floating_network_id": net})
        pf = self._post(
            f"/v2.0/floatingips/{forwarded}/port_forwardings",
            "port_forwarding",
            {
                "protocol": "tcp",
                "internal_port_id": target["id"],
                "internal_ip_address": target["fixed_ips"][0]["ip_address"],
                "internal_port": 80,
                "external_port": 8080,
            },
        )
        self.ids.update({"fip_id": [forwarded], "pf_id": [pf]})

    def _qos(self) -> None:
        """A QoS policy with a rule of every type (an agent reporting the types first), on
        the first port: every rule route, by kind and by the alias, finds real ids."""
        rules = {
            "bandwidth_limit": {"max_kbps": 1000},
            "dscp_marking": {"dscp_mark": 26},
            "minimum_bandwidth": {"min_kbps": 1000},
            "minimum_packet_rate": {"min_kpps": 1000},
        }
        body = {
            "agent": {
                "host": "fuzz-hv",
                "agent_type": "L2 agent",
                "configurations": {"qos_rule_types": {t: [] for t in rules}},
            }
        }
        self._call("POST", "/agent/v1/agents", body)
        policy = self._post("/v2.0/qos/policies", "policy", {"name": "q", "shared": True})
        made = [
            self._post(f"/v2.0/qos/policies/{policy}/{t}_rules", f"{t}_rule", attrs)
            for t, attrs in rules.items()
        ]
        port = self.ids["ports"][0]
        self._call("PUT", f"/v2.0/ports/{port}", {"port": {"qos_policy_id": policy}})
        self.ids.update(
            {
                "qos": [policy],
                "policy_id": [policy],
                "rule_id": made,
                "rule_kind": [f"{t}_rules" for t in rules],
                "rule_type": list(rules),
            }
        )

    def _bindings(self) -> None:
        """A VM's port bound to one agent's host, with an inactive binding on another's."""
        body = {
            "agent": {
                "host": "fuzz-hv2",
                "agent_type": "L2 agent",
                "configurations": {"tunnel_types": ["vxlan"], "tunnel_ip": "198.51.100.2"},
            }
        }
        self._call("POST", "/agent/v1/agents", body)
        attrs = {
            "network_id": self.ids["networks"][0],
            "device_owner": "compute:nova",
            "binding:host_id": "fuzz-hv",
        }
        vm = self._post("/v2.0/ports", "port", attrs)
        self._call("POST", f"/v2.0/ports/{vm}/bindings", {"binding": {"host": "fuzz-hv2"}})
        self.ids.update({"port_id": [vm], "host": ["fuzz-hv2", "fuzz-hv"]})

    def _call(self, method: str, path: str, body: Any = None, tok: str | None = None) -> Any:
        send = self._client.request if self._client is not None else httpx.request
        r = send(method, self.base + path, json=body, headers={"X-Auth-Token": tok or self.admin})
        assert r.status_code < 300, r.text
        return r.json() if r.content else None

    def _post(self, path: str, member: str, attrs: dict[str, Any], tok: str | None = None) -> str:
        return self._call("POST", path, {member: attrs}, tok)[member]["id"]  # type: ignore[no-any-return]

    def path_parameters(self, path: str) -> dict[str, str]:
        """One real id for each parameter of ``path`` that has one."""
        known = {k: v[0] for k, v in self.ids.items()}
        collection = path.split("/")[2] if path.startswith("/v2.0/") else ""
        if collection in self.ids:
            known["resource_id"] = self.ids[collection][0]
        return {k: v for k, v in known.items() if "{" + k + "}" in path}
