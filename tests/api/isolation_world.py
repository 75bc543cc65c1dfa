"""The isolation matrix's world: one deployment built through the real API (see
``test_isolation_matrix``), the callers' tokens and the ids of what each project owns."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.common import clock
from neutrino.common.settings import Settings
from neutrino.service.tokens import TokenAuthority
from neutrino.store.models import Base
from neutrino.store.uow import Store
from tests.conftest import ADMIN_PASSWORD, PG_URL, _drop_pg, _fresh_pg

OWNER, READER_A, MEMBER_B, READER_B = "member_a", "reader_a", "member_b", "reader_b"
UNSCOPED, NOROLES = "unscoped", "noroles"
BAD_TOKENS = ("forged", "expired", "revoked")
SCOPED = (OWNER, READER_A, MEMBER_B, READER_B)
NO_PROJECT = (UNSCOPED, NOROLES)
# QoS rule type -> (world key, create body) of the rule each type has on A's policy
QOS_RULES: dict[str, tuple[str, dict[str, Any]]] = {
    "bandwidth_limit": ("bwl_a", {"max_kbps": 1000}),
    "dscp_marking": ("dscp_a", {"dscp_mark": 26}),
    "minimum_bandwidth": ("minbw_a", {"min_kbps": 1000}),
    "minimum_packet_rate": ("minpps_a", {"min_kpps": 1000}),
}
CALLERS = ("admin", *SCOPED, *NO_PROJECT, *BAD_TOKENS)


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        headers = {"X-Auth-Token": self.tokens[who]}
        return self.client.request(method, path.format(**self.ids), json=body, headers=headers)

    def ok(
        self, who: str, method: str, path: str, body: Any = None, status: int = 201
    ) -> dict[str, Any]:
        r = self.call(who, method, path, body)
        assert r.status_code == status, (method, path, r.text)
        return r.json() if r.content else {}  # type: ignore[no-any-return]


def _issue(
    client: TestClient, user: dict[str, Any], password: str, project: dict[str, Any] | None
) -> str:
    auth: dict[str, Any] = {
        "identity": {"methods": ["password"], "password": {"user": {**user, "password": password}}}
    }
    if project is not None:
        auth["scope"] = {"project": project}
    r = client.post("/v3/auth/tokens", json={"auth": auth})
    assert r.status_code == 201, r.text
    return r.headers["X-Subject-Token"]


def _user(w: World, name: str, role: str | None, project: str | None) -> str:
    """A new user (password = its name) with ``role`` on ``project``; its id."""
    r = w.ok(
        "admin",
        "POST",
        "/v3/users",
        {"user": {"name": name, "password": name, "domain_id": "default"}},
    )
    user_id = r["user"]["id"]
    if role is not None:
        role_id = w.ids["role_" + role]
        w.ok("admin", "PUT", f"/v3/projects/{project}/users/{user_id}/roles/{role_id}", status=204)
    return str(user_id)


def build(w: World, settings: Settings) -> None:
    c, ids = w.client, w.ids
    w.tokens["admin"] = _issue(
        c,
        {"name": "admin", "domain": {"name": "Default"}},
        ADMIN_PASSWORD,
        {"name": "admin", "domain": {"name": "Default"}},
    )
    for role in w.ok("admin", "GET", "/v3/roles", status=200)["roles"]:
        ids["role_" + role["name"]] = role["id"]
    for p in ("a", "b", "c"):  # c: a third project, without callers (RBAC target)
        ids[f"project_{p}"] = w.ok(
            "admin",
            "POST",
            "/v3/projects",
            {"project": {"name": f"proj-{p}-{uuid.uuid4().hex[:6]}"}},
        )["project"]["id"]
    for who, role, project in (
        (OWNER, "member", "a"),
        (READER_A, "reader", "a"),
        (MEMBER_B, "member", "b"),
        (READER_B, "reader", "b"),
    ):
        name = f"{who}-{uuid.uuid4().hex[:6]}"
        ids["user_" + who] = _user(w, name, role, ids[f"project_{project}"])
        w.tokens[who] = _issue(
            c, {"id": ids["user_" + who]}, name, {"id": ids[f"project_{project}"]}
        )
    # unscoped: member_b's own user, token without a project; noroles: a user with no role
    name_b = c.get(
        f"/v3/users/{ids['user_' + MEMBER_B]}", headers={"X-Auth-Token": w.tokens["admin"]}
    ).json()["user"]["name"]
    w.tokens[UNSCOPED] = _issue(c, {"id": ids["user_" + MEMBER_B]}, name_b, None)
    lonely = f"noroles-{uuid.uuid4().hex[:6]}"
    ids["user_noroles"] = _user(w, lonely, None, None)
    w.tokens[NOROLES] = _issue(c, {"id": ids["user_noroles"]}, lonely, None)
    # bad tokens: admin's claims under another key, an expired one, a revoked one
    other_key = TokenAuthority(b"not-this-deployment", 3600)
    claims = {
        "user_id": "x",
        "user_name": "admin",
        "domain_id": "default",
        "project_id": ids["project_a"],
        "project_name": "a",
        "project_domain_id": "default",
        "roles": ["admin", "member", "reader"],
        "methods": ["password"],
    }
    w.tokens["forged"] = other_key.issue(claims)[0]
    own_key = TokenAuthority(settings.signing_key(), settings.token_ttl_seconds)
    w.tokens["expired"] = own_key.issue(
        {**claims, "user_id": ids["user_" + OWNER]}, expires_at=clock.epoch() - 5
    )[0]
    revoked = _issue(
        c,
        {"id": ids["user_" + OWNER]},
        c.get(
            f"/v3/users/{ids['user_' + OWNER]}", headers={"X-Auth-Token": w.tokens["admin"]}
        ).json()["user"]["name"],
        {"id": ids["project_a"]},
    )
    r = c.delete(
        "/v3/auth/tokens", headers={"X-Auth-Token": w.tokens["admin"], "X-Subject-Token": revoked}
    )
    assert r.status_code == 204
    w.tokens["revoked"] = revoked

    def make(who: str, coll: str, member: str, key: str, **attrs: Any) -> None:
        ids[key] = w.ok(who, "POST", f"/v2.0/{coll}", {member: attrs})[member]["id"]

    # networks: the admin's external one, A's shared one, A's and B's private ones
    make("admin", "networks", "network", "ext", name="ext", **{"router:external": True})
    make(
        "admin",
        "subnets",
        "subnet",
        "ext_sub",
        network_id=ids["ext"],
        cidr="203.0.113.0/24",
        ip_version=4,
    )
    make(
        "admin",
        "networks",
        "network",
        "shared",
        name="shared",
        shared=True,
        project_id=ids["project_a"],
    )
    make(
        OWNER,
        "subnets",
        "subnet",
        "shared_sub",
        network_id=ids["shared"],
        cidr="198.51.100.0/24",
        ip_version=4,
    )
    make(OWNER, "networks", "network", "net_a", name="net-a")
    make(
        OWNER,
        "subnets",
        "subnet",
        "sub_a",
        network_id=ids["net_a"],
        cidr="192.0.2.0/25",
        ip_version=4,
    )
    make(MEMBER_B, "networks", "network", "net_b", name="net-b")
    make(
        MEMBER_B,
        "subnets",
        "subnet",
        "sub_b",
        network_id=ids["net_b"],
        cidr="192.0.2.128/25",
        ip_version=4,
    )
    # RBAC: A shares a network to B by name (B puts a port on it), another to C only
    for key, target, cidr in (("to_b", "b", "192.0.2.0/28"), ("to_c", "c", "192.0.2.16/28")):
        make(OWNER, "networks", "network", f"net_{key}", name=f"net-{key}")
        make(
            OWNER,
            "subnets",
            "subnet",
            f"sub_{key}",
            network_id=ids[f"net_{key}"],
            cidr=cidr,
            ip_version=4,
        )
        make(
            OWNER,
            "rbac-policies",
            "rbac_policy",
            f"rbac_{key}",
            object_type="network",
            object_id=ids[f"net_{key}"],
            action="access_as_shared",
            target_tenant=ids[f"project_{target}"],
        )
    make(MEMBER_B, "ports", "port", "port_b_rbac", network_id=ids["net_to_b"], name="pbr")
    # subnet pools and address scopes: A's own, A's shared to B by a policy, the admin's shared
    make(OWNER, "address-scopes", "address_scope", "scope_a", name="sa", ip_version=4)
    make("admin", "address-scopes", "address_scope", "scope_shared", ip_version=4, shared=True)
    make(  # A's own segment range: still the admin's alone to see and change
        "admin",
        "network_segment_ranges",
        "network_segment_range",
        "range_a",
        shared=False,
        project_id=ids["project_a"],
        network_type="vxlan",
        minimum=3000,
        maximum=3009,
    )
    make(OWNER, "subnetpools", "subnetpool", "pool_a", name="pa", prefixes=["10.100.0.0/16"])
    make(OWNER, "subnetpools", "subnetpool", "pool_to_b", name="pb", prefixes=["10.101.0.0/16"])
    make(
        "admin",
        "subnetpools",
        "subnetpool",
        "pool_shared",
        name="ps",
        prefixes=["10.102.0.0/16"],
        shared=True,
    )
    make(
        OWNER,
        "rbac-policies",
        "rbac_policy",
        "rbac_pool_to_b",
        object_type="subnetpool",
        object_id=ids["pool_to_b"],
        action="access_as_shared",
        target_tenant=ids["project_b"],
    )
    # address groups: A's own, and A's shared to B by a policy
    make(OWNER, "address-groups", "address_group", "ag_a", addresses=["192.0.2.0/28"])
    make(OWNER, "address-groups", "address_group", "ag_to_b", addresses=["192.0.2.16/28"])
    make(
        OWNER,
        "rbac-policies",
        "rbac_policy",
        "rbac_ag_to_b",
        object_type="address_group",
        object_id=ids["ag_to_b"],
        action="access_as_shared",
        target_tenant=ids["project_b"],
    )
    # QoS policies (written by the admin only): A's, and one shared to all
    make("admin", "qos/policies", "policy", "qos_a", name="qa", project_id=ids["project_a"])
    make("admin", "qos/policies", "policy", "qos_shared", name="qs", shared=True)
    # ports: A's on its network and on the shared one, B's on A's shared network and its own
    make(OWNER, "ports", "port", "port_a", network_id=ids["net_a"], name="pa")
    make(OWNER, "ports", "port", "port_a_shared", network_id=ids["shared"], name="pas")
    make(MEMBER_B, "ports", "port", "port_b_shared", network_id=ids["shared"], name="pbs")
    make(MEMBER_B, "ports", "port", "port_b", network_id=ids["net_b"], name="pb")
    # security groups
    make(OWNER, "security-groups", "security_group", "sg_a", name="sg-a")
    make(
        OWNER,
        "security-group-rules",
        "security_group_rule",
        "rule_a",
        security_group_id=ids["sg_a"],
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
    )
    make(MEMBER_B, "security-groups", "security_group", "sg_b", name="sg-b")
    # routers: A's with a gateway and an interface; B's bare one
    make(
        OWNER,
        "routers",
        "router",
        "router_a",
        name="ra",
        external_gateway_info={"network_id": ids["ext"]},
    )
    made = w.ok(
        OWNER,
        "PUT",
        "/v2.0/routers/{router_a}/add_router_interface",
        {"subnet_id": ids["sub_a"]},
        status=200,
    )
    ids["if_port"] = made["port_id"]
    make(MEMBER_B, "routers", "router", "router_b", name="rb")
    admin_ports = w.ok(
        "admin", "GET", "/v2.0/ports?device_owner=network:router_gateway", status=200
    )["ports"]
    (gw,) = [p for p in admin_ports if p["device_id"] == ids["router_a"]]
    ids["gw_port"] = gw["id"]
    # A's floating IP on its port, and the floating IP's own port (project '')
    make(
        OWNER,
        "floatingips",
        "floatingip",
        "fip_a",
        floating_network_id=ids["ext"],
        port_id=ids["port_a"],
    )
    (fport,) = w.ok("admin", "GET", "/v2.0/ports?device_owner=network:floatingip", status=200)[
        "ports"
    ]
    ids["fip_port"] = fport["id"]
    # A's floating IP without a port, forwarding tcp 8080 to another of A's ports
    make(OWNER, "ports", "port", "pf_port", network_id=ids["net_a"], name="pfp")
    make(OWNER, "floatingips", "floatingip", "fip_pf", floating_network_id=ids["ext"])
    pf_target = w.ok(OWNER, "GET", "/v2.0/ports/{pf_port}", status=200)["port"]
    ids["pf_a"] = w.ok(
        OWNER,
        "POST",
        "/v2.0/floatingips/{fip_pf}/port_forwardings",
        {
            "port_forwarding": {
                "protocol": "tcp",
                "internal_port_id": ids["pf_port"],
                "internal_ip_address": pf_target["fixed_ips"][0]["ip_address"],
                "internal_port": 80,
                "external_port": 8080,
            }
        },
        status=201,
    )["port_forwarding"]["id"]
    w.ok(OWNER, "PUT", "/v2.0/networks/{net_a}/tags/secret-tag", status=201)
    make(
        "admin",
        "default-security-group-rules",
        "default_security_group_rule",
        "dsg_rule",
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=8080,
        port_range_max=8080,
        used_in_default_sg=True,
    )
    agent = w.ok(
        "admin",
        "POST",
        "/agent/v1/agents",
        {
            "agent": {
                "host": "hv-matrix",
                "agent_type": "L2 agent",
                "binary": "neutrino-agent",
                "configurations": {
                    "tunnel_types": ["vxlan"],
                    "tunnel_ip": "198.51.100.250",
                    "qos_rule_types": {t: [] for t in QOS_RULES},
                },
            }
        },
        status=200,
    )
    ids["agent"] = agent["agent"]["id"]
    # a VM's port of A's with an inactive binding on the agent's host, made by a user with
    # the ``service`` role (the bindings' only writer, as in Neutron; not a matrix caller)
    make(
        OWNER,
        "ports",
        "port",
        "vm_a",
        network_id=ids["net_a"],
        name="vm",
        device_owner="compute:nova",
    )
    service = f"service-{uuid.uuid4().hex[:6]}"
    ids["user_service"] = _user(w, service, "service", ids["project_c"])
    w.tokens["service"] = _issue(c, {"id": ids["user_service"]}, service, {"id": ids["project_c"]})
    w.ok("service", "POST", "/v2.0/ports/{vm_a}/bindings", {"binding": {"host": "hv-matrix"}})
    # a rule of every type on A's QoS policy, and one on the shared policy (the agent above
    # reports the types, which creating a rule needs)
    for rule_type, (key, attrs) in QOS_RULES.items():
        path = f"/v2.0/qos/policies/{ids['qos_a']}/{rule_type}_rules"
        made = w.ok("admin", "POST", path, {f"{rule_type}_rule": attrs})
        ids[key] = made[f"{rule_type}_rule"]["id"]
    path = f"/v2.0/qos/policies/{ids['qos_shared']}/dscp_marking_rules"
    made = w.ok("admin", "POST", path, {"dscp_marking_rule": {"dscp_mark": 10}})
    ids["dscp_shared"] = made["dscp_marking_rule"]["id"]
    flavor = w.ok("admin", "POST", "/v2.0/flavors", {"flavor": {"service_type": "L3_ROUTER_NAT"}})
    ids["flavor"] = flavor["flavor"]["id"]
    profile = w.ok(
        "admin", "POST", "/v2.0/service_profiles", {"service_profile": {"metainfo": "m"}}
    )
    ids["service_profile"] = profile["service_profile"]["id"]
    w.ok("admin", "PUT", "/v2.0/quotas/{project_a}", {"quota": {"network": 20}}, status=200)


@contextmanager
def open_world(backend: str, tmp: Path) -> Iterator[World]:
    """A fresh deployment on ``backend`` (``sqlite`` or ``postgres``) with the world built."""
    if backend == "sqlite":
        db, cleanup = f"sqlite:///{tmp / 'neutrino.db'}", None
    else:
        db = _fresh_pg(PG_URL)
        cleanup = db
    settings = Settings(
        state_dir=tmp / "state",
        db=db,
        listen="127.0.0.1:9696",
        token_key="test-key",
        admin_password=ADMIN_PASSWORD,
    )
    store = Store(settings.db_url)
    Base.metadata.create_all(store.engines.write)
    try:
        with TestClient(create_app(settings, store)) as client:
            client.app.state.services.identity.bootstrap(ADMIN_PASSWORD)  # type: ignore[attr-defined]
            w = World(client)
            build(w, settings)
            yield w
    finally:
        store.dispose()
        if cleanup:
            _drop_pg(PG_URL, cleanup)
