"""The isolation matrix: every resource x read/list/update/delete/use x every kind of caller.

One world is built per backend (module scope) through the real API: project A owns a private
network, a shared network, ports, a security group and rule, a router with an interface and a
gateway on the (admin's) external network, a floating IP, tags; project B owns what it needs
to try to *use* A's resources. Then each case is one request by one caller with the exact
status Neutron (or Keystone) gives:

* 404 for what the caller cannot see, 403 for what it can see but may not change, 401 for a
  forged, expired or revoked token;
* lists hold exactly what the caller may see of the world: none of another project's ids, and
  for a caller without a project (unscoped token, user without any role) nothing at all, not
  even the project-less router gateway and floating-IP ports;
* admin is the control: the same requests succeed for it.

Callers: ``admin``; ``member_a`` (the owner, control for its own resources); ``reader_a``
(same project, read-only); ``member_b`` and ``reader_b`` (another project); ``unscoped`` (a
user with roles, token without a project); ``noroles`` (a user without any role); ``forged``
(admin claims signed with another key), ``expired``, ``revoked``.

Deletes are only tried where they must fail (the world stays intact); "use" cases create
with someone else's network, subnet, port, router, security group or remote group.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.common import clock
from neutrino.common.settings import Settings
from neutrino.service.tokens import TokenAuthority
from neutrino.store.models import Base
from neutrino.store.uow import Store
from tests.conftest import ADMIN_PASSWORD, BACKENDS, PG_URL, _drop_pg, _fresh_pg

OWNER, READER_A, MEMBER_B, READER_B = "member_a", "reader_a", "member_b", "reader_b"
UNSCOPED, NOROLES = "unscoped", "noroles"
BAD_TOKENS = ("forged", "expired", "revoked")
SCOPED = (OWNER, READER_A, MEMBER_B, READER_B)
NO_PROJECT = (UNSCOPED, NOROLES)
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


def _build(w: World, settings: Settings) -> None:
    c, ids = w.client, w.ids
    w.tokens["admin"] = _issue(
        c,
        {"name": "admin", "domain": {"name": "Default"}},
        ADMIN_PASSWORD,
        {"name": "admin", "domain": {"name": "Default"}},
    )
    for role in w.ok("admin", "GET", "/v3/roles", status=200)["roles"]:
        ids["role_" + role["name"]] = role["id"]
    for p in ("a", "b"):
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
                "configurations": {"tunnel_types": ["vxlan"], "tunnel_ip": "198.51.100.250"},
            }
        },
        status=200,
    )
    ids["agent"] = agent["agent"]["id"]
    w.ok("admin", "PUT", "/v2.0/quotas/{project_a}", {"quota": {"network": 20}}, status=200)


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("matrix")
    if request.param == "sqlite":
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
            _build(w, settings)
            yield w
    finally:
        store.dispose()
        if cleanup:
            _drop_pg(PG_URL, cleanup)


# --- who sees what ---------------------------------------------------------------------------

# resource key -> (item path, the projects that may see it)
A, B, NOBODY = frozenset({"a"}), frozenset({"b"}), frozenset()
ALL = frozenset({"a", "b"})
ITEMS: dict[str, tuple[str, frozenset[str]]] = {
    "net_a": ("/v2.0/networks/{net_a}", A),
    "shared": ("/v2.0/networks/{shared}", ALL),
    "ext": ("/v2.0/networks/{ext}", ALL),
    "net_b": ("/v2.0/networks/{net_b}", B),
    "sub_a": ("/v2.0/subnets/{sub_a}", A),
    "shared_sub": ("/v2.0/subnets/{shared_sub}", ALL),
    "ext_sub": ("/v2.0/subnets/{ext_sub}", ALL),
    "port_a": ("/v2.0/ports/{port_a}", A),
    "port_a_shared": ("/v2.0/ports/{port_a_shared}", A),
    "port_b_shared": ("/v2.0/ports/{port_b_shared}", ALL),  # B's, on A's network: A sees it
    "if_port": ("/v2.0/ports/{if_port}", A),
    "gw_port": ("/v2.0/ports/{gw_port}", NOBODY),  # project '' on the admin's network
    "fip_port": ("/v2.0/ports/{fip_port}", NOBODY),
    "sg_a": ("/v2.0/security-groups/{sg_a}", A),
    "rule_a": ("/v2.0/security-group-rules/{rule_a}", A),
    "router_a": ("/v2.0/routers/{router_a}", A),
    "fip_a": ("/v2.0/floatingips/{fip_a}", A),
    "dsg_rule": ("/v2.0/default-security-group-rules/{dsg_rule}", ALL),
    "agent": ("/v2.0/agents/{agent}", NOBODY),
}
OWNED_BY = {
    "net_a": "a",
    "shared": "a",
    "ext": "admin",
    "net_b": "b",
    "sub_a": "a",
    "shared_sub": "a",
    "ext_sub": "admin",
    "port_a": "a",
    "port_a_shared": "a",
    "port_b_shared": "b",
    "if_port": "a",
    "gw_port": "admin",
    "fip_port": "admin",
    "sg_a": "a",
    "rule_a": "a",
    "router_a": "a",
    "fip_a": "a",
    "dsg_rule": "admin",
    "agent": "admin",
}
COLLECTIONS = {
    "networks": ("net_a", "shared", "ext", "net_b"),
    "subnets": ("sub_a", "shared_sub", "ext_sub"),
    "ports": ("port_a", "port_a_shared", "port_b_shared", "if_port", "gw_port", "fip_port"),
    "security-groups": ("sg_a",),
    "security-group-rules": ("rule_a",),
    "routers": ("router_a",),
    "floatingips": ("fip_a",),
    "default-security-group-rules": ("dsg_rule",),
    "agents": ("agent",),
}
UPDATES: dict[str, Any] = {
    "net_a": {"network": {"name": "n"}},
    "shared": {"network": {"name": "n"}},
    "ext": {"network": {"name": "n"}},
    "sub_a": {"subnet": {"name": "n"}},
    "shared_sub": {"subnet": {"name": "n"}},
    "ext_sub": {"subnet": {"name": "n"}},
    "port_a": {"port": {"name": "n"}},
    "port_a_shared": {"port": {"name": "n"}},
    "port_b_shared": {"port": {"name": "n"}},
    "if_port": {"port": {"name": "n"}},
    "gw_port": {"port": {"name": "n"}},
    "fip_port": {"port": {"name": "n"}},
    "sg_a": {"security_group": {"name": "n"}},
    "router_a": {"router": {"name": "n"}},
    "fip_a": {"floatingip": {"description": "n"}},
    "agent": {"agent": {"description": "n"}},
}


def _project(who: str) -> str | None:
    return {OWNER: "a", READER_A: "a", MEMBER_B: "b", READER_B: "b"}.get(who)


def sees(who: str, key: str) -> bool:
    if who == "admin":
        return True
    project = _project(who)
    return project is not None and project in ITEMS[key][1]


def may_write(who: str, key: str) -> bool:
    """Owner members (and admin) may change their resources; B may change its port on A's
    network, but A, the network's owner, may not (Neutron's update_port is the port's)."""
    return who == "admin" or (who in (OWNER, MEMBER_B) and OWNED_BY[key] == _project(who))


# --- cases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    who: str
    method: str
    path: str
    status: int
    body: Any = None
    error: str | None = None  # the NeutronError type expected, when it matters
    listed: tuple[str, ...] | None = None  # for lists: exactly these world ids of the kind
    collection: str = ""

    @property
    def id(self) -> str:
        what = "" if self.body is None else "-" + _digest(self.body)
        return f"{self.who}-{self.method}-{self.path}{what}-{self.status}"


def _digest(body: Any) -> str:
    return hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:6]


def _expected_item(who: str, key: str, write: bool) -> int:
    if who in BAD_TOKENS:
        return 401
    if not sees(who, key):
        return 404
    if not write:
        return 200
    return 200 if may_write(who, key) else 403


def cases() -> list[Case]:
    out: list[Case] = []
    for who in CALLERS:
        for key, (path, _) in ITEMS.items():
            out.append(Case(who, "GET", path, _expected_item(who, key, write=False)))
            if key in UPDATES and not (key == "agent" and who == "admin"):
                status = _expected_item(who, key, write=True)
                if key in ("gw_port", "fip_port") and who == "admin":
                    status = 200
                out.append(Case(who, "PUT", path, status, UPDATES[key]))
            if (
                key != "dsg_rule"
                and not may_write(who, key)
                and not (who == OWNER and key == "port_b_shared")
            ):
                # deletes only where they must fail (the network's owner may delete B's port)
                out.append(Case(who, "DELETE", path, _expected_item(who, key, write=True)))
        for coll, keys in COLLECTIONS.items():
            if who in BAD_TOKENS:
                out.append(Case(who, "GET", f"/v2.0/{coll}", 401))
                continue
            visible = tuple(k for k in keys if sees(who, k))
            out.append(Case(who, "GET", f"/v2.0/{coll}", 200, listed=visible, collection=coll))
            if coll in ("networks", "ports", "subnets"):  # filters cannot widen the view
                out.append(
                    Case(
                        who,
                        "GET",
                        f"/v2.0/{coll}?project_id={{project_a}}",
                        200,
                        listed=tuple(k for k in visible if OWNED_BY[k] == "a"),
                        collection=coll,
                    )
                )
                out.append(
                    Case(
                        who,
                        "GET",
                        f"/v2.0/{coll}?fields=id&fields=name",
                        200,
                        listed=visible,
                        collection=coll,
                    )
                )
        if who not in BAD_TOKENS:
            out.append(
                Case(
                    who,
                    "GET",
                    "/v2.0/ports?device_owner=network:router_gateway",
                    200,
                    listed=("gw_port",) if who == "admin" else (),
                    collection="ports",
                )
            )
            out.append(
                Case(
                    who,
                    "GET",
                    "/v2.0/ports?device_owner=network:floatingip",
                    200,
                    listed=("fip_port",) if who == "admin" else (),
                    collection="ports",
                )
            )
            out.append(
                Case(
                    who,
                    "GET",
                    "/v2.0/ports?id={gw_port}&id={fip_port}",
                    200,
                    listed=("gw_port", "fip_port") if who == "admin" else (),
                    collection="ports",
                )
            )
        out.extend(_sub_resources(who))
    out.extend(_uses())
    out.extend(_identity())
    return out


def _sub_resources(who: str) -> list[Case]:
    """Tags, quotas, port events and the agent API of A's resources."""
    bad = who in BAD_TOKENS
    tag_read = 401 if bad else (200 if sees(who, "net_a") else 404)
    tag_write = (
        401 if bad else (404 if not sees(who, "net_a") else 201 if may_write(who, "net_a") else 403)
    )
    quota_read = 401 if bad else 200 if who in ("admin", OWNER, READER_A) else 403
    quota_write = 401 if bad else 200 if who == "admin" else 403
    events = 401 if bad else 200 if sees(who, "port_a") else 404
    agent_api = 401 if bad else 200 if who == "admin" else 403
    return [
        Case(who, "GET", "/v2.0/networks/{net_a}/tags", tag_read),
        Case(
            who,
            "GET",
            "/v2.0/networks/{net_a}/tags/secret-tag",
            204 if tag_read == 200 else tag_read,
        ),
        Case(who, "PUT", "/v2.0/networks/{net_a}/tags/other-tag", tag_write),
        Case(
            who,
            "PUT",
            "/v2.0/networks/{shared}/tags/other-tag",
            401
            if bad
            else 404
            if not sees(who, "shared")
            else 201
            if who in ("admin", OWNER)
            else 403,
        ),
        Case(who, "GET", "/v2.0/quotas/{project_a}", quota_read),
        Case(who, "PUT", "/v2.0/quotas/{project_a}", quota_write, {"quota": {"network": 20}}),
        Case(who, "GET", "/agent/v1/ports/{port_a}/events?timeout=0", events),
        Case(who, "GET", "/agent/v1/hosts/hv-matrix/state", agent_api),
    ]


def _uses() -> list[Case]:
    """B using A's resources (and the admin-only or network-owner-only attributes)."""
    b = MEMBER_B
    port = "/v2.0/ports"

    def port_on(net: str, status: int, error: str | None = None, **attrs: Any) -> Case:
        body = {"port": {"network_id": "{" + net + "}", **attrs}}
        return Case(b, "POST", port, status, body, error)

    out = [
        port_on("net_a", 404, "NetworkNotFound"),
        port_on("ext", 403, "PolicyNotAuthorized"),
        port_on("shared", 403, "PolicyNotAuthorized", mac_address="fa:16:3e:12:34:56"),
        port_on(
            "shared",
            403,
            "PolicyNotAuthorized",
            fixed_ips=[{"subnet_id": "{shared_sub}", "ip_address": "198.51.100.1"}],
        ),
        port_on("shared", 403, "PolicyNotAuthorized", fixed_ips=[{"ip_address": "198.51.100.9"}]),
        port_on("shared", 403, "PolicyNotAuthorized", port_security_enabled=False),
        port_on("shared", 403, "PolicyNotAuthorized", port_security_enabled=True),
        port_on(
            "shared",
            403,
            "PolicyNotAuthorized",
            allowed_address_pairs=[{"ip_address": "198.51.100.0/24"}],
        ),
        port_on("shared", 403, "PolicyNotAuthorized", allowed_address_pairs=[]),
        port_on("shared", 403, "PolicyNotAuthorized", device_owner="network:dhcp"),
        port_on(
            "shared",
            403,
            "PolicyNotAuthorized",
            device_owner="network:router_interface",
            device_id="{router_a}",
        ),
        port_on("shared", 403, "PolicyNotAuthorized", device_owner="network:foo"),
        port_on("shared", 403, "PolicyNotAuthorized", **{"binding:host_id": "hv-matrix"}),
        port_on("shared", 403, "PolicyNotAuthorized", **{"binding:profile": {"a": 1}}),
        port_on("shared", 400, None, project_id="{project_a}"),
        port_on(
            "net_b",
            409,
            "DeviceIDNotOwnedByTenant",
            device_owner="network:router_interface",
            device_id="{router_a}",
        ),
        port_on("net_b", 404, "SecurityGroupNotFound", security_groups=["{sg_a}"]),
        # allowed uses, the control: a plain port and one naming only a subnet
        port_on("shared", 201),
        port_on(
            "shared", 201, fixed_ips=[{"subnet_id": "{shared_sub}"}], device_owner="compute:nova"
        ),
        # updates of B's own port on A's shared network: the network-owner attributes
        Case(
            b,
            "PUT",
            "/v2.0/ports/{port_b_shared}",
            403,
            {"port": {"fixed_ips": [{"subnet_id": "{shared_sub}"}]}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/ports/{port_b_shared}",
            403,
            {"port": {"mac_address": "fa:16:3e:12:34:57"}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/ports/{port_b_shared}",
            403,
            {"port": {"port_security_enabled": False}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/ports/{port_b_shared}",
            403,
            {"port": {"allowed_address_pairs": [{"ip_address": "198.51.100.7"}]}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/ports/{port_b_shared}",
            403,
            {"port": {"device_owner": "network:dhcp"}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/ports/{port_b_shared}",
            403,
            {"port": {"binding:host_id": "hv-matrix"}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/ports/{port_b}",
            409,
            {"port": {"device_owner": "network:router_interface", "device_id": "{router_a}"}},
            "DeviceIDNotOwnedByTenant",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/ports/{port_b}",
            404,
            {"port": {"security_groups": ["{sg_a}"]}},
            "SecurityGroupNotFound",
        ),
        # subnets on others' networks
        Case(
            b,
            "POST",
            "/v2.0/subnets",
            404,
            {"subnet": {"network_id": "{net_a}", "cidr": "10.9.0.0/24", "ip_version": 4}},
            "NetworkNotFound",
        ),
        Case(
            b,
            "POST",
            "/v2.0/subnets",
            403,
            {"subnet": {"network_id": "{shared}", "cidr": "10.9.0.0/24", "ip_version": 4}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "POST",
            "/v2.0/subnets",
            403,
            {"subnet": {"network_id": "{ext}", "cidr": "10.9.0.0/24", "ip_version": 4}},
            "PolicyNotAuthorized",
        ),
        # router interfaces and gateways with others' subnets, ports and networks
        Case(
            b,
            "PUT",
            "/v2.0/routers/{router_b}/add_router_interface",
            404,
            {"subnet_id": "{sub_a}"},
            "SubnetNotFound",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/routers/{router_b}/add_router_interface",
            400,
            {"subnet_id": "{shared_sub}"},
            "BadRequest",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/routers/{router_b}/add_router_interface",
            404,
            {"port_id": "{port_a}"},
            "PortNotFound",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/routers/{router_a}/add_router_interface",
            404,
            {"subnet_id": "{sub_b}"},
            "RouterNotFound",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/routers/{router_a}/remove_router_interface",
            404,
            {"subnet_id": "{sub_a}"},
            "RouterNotFound",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/routers/{router_b}",
            404,
            {"router": {"external_gateway_info": {"network_id": "{net_a}"}}},
            "NetworkNotFound",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/routers/{router_b}",
            403,
            {"router": {"external_gateway_info": {"network_id": "{ext}", "enable_snat": False}}},
            "PolicyNotAuthorized",
        ),
        # floating IPs on others' ports and networks
        Case(
            b,
            "POST",
            "/v2.0/floatingips",
            404,
            {"floatingip": {"floating_network_id": "{ext}", "port_id": "{port_a}"}},
            "PortNotFound",
        ),
        Case(
            b,
            "POST",
            "/v2.0/floatingips",
            404,
            {"floatingip": {"floating_network_id": "{net_a}"}},
            "NetworkNotFound",
        ),
        Case(
            b,
            "POST",
            "/v2.0/floatingips",
            403,
            {"floatingip": {"floating_network_id": "{ext}", "floating_ip_address": "203.0.113.77"}},
            "PolicyNotAuthorized",
        ),
        # security-group rules in, or pointing at, A's groups
        Case(
            b,
            "POST",
            "/v2.0/security-group-rules",
            404,
            {
                "security_group_rule": {
                    "security_group_id": "{sg_a}",
                    "direction": "ingress",
                    "ethertype": "IPv4",
                }
            },
            "SecurityGroupNotFound",
        ),
        Case(
            b,
            "POST",
            "/v2.0/security-group-rules",
            404,
            {
                "security_group_rule": {
                    "security_group_id": "{sg_b}",
                    "direction": "ingress",
                    "ethertype": "IPv4",
                    "remote_group_id": "{sg_a}",
                }
            },
            "SecurityGroupNotFound",
        ),
        # admin-only attributes and other projects' ids
        Case(
            b, "POST", "/v2.0/networks", 403, {"network": {"shared": True}}, "PolicyNotAuthorized"
        ),
        Case(
            b,
            "POST",
            "/v2.0/networks",
            403,
            {"network": {"router:external": True}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "POST",
            "/v2.0/networks",
            403,
            {"network": {"provider:network_type": "vxlan"}},
            "PolicyNotAuthorized",
        ),
        Case(b, "POST", "/v2.0/networks", 400, {"network": {"project_id": "{project_a}"}}),
        Case(
            b,
            "PUT",
            "/v2.0/networks/{net_b}",
            403,
            {"network": {"shared": False}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "PUT",
            "/v2.0/networks/{net_b}",
            403,
            {"network": {"router:external": False}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "POST",
            "/v2.0/default-security-group-rules",
            403,
            {"default_security_group_rule": {"direction": "ingress", "ethertype": "IPv4"}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "DELETE",
            "/v2.0/default-security-group-rules/{dsg_rule}",
            403,
            None,
            "PolicyNotAuthorized",
        ),
        Case(b, "PUT", "/v2.0/quotas/{project_b}", 403, {"quota": {"network": 99}}),
        Case(b, "DELETE", "/v2.0/quotas/{project_a}", 403),
    ]
    # callers who may not create at all
    for who in (READER_A, READER_B, UNSCOPED, NOROLES):
        for coll, member, body in (
            ("networks", "network", {}),
            ("routers", "router", {}),
            ("security-groups", "security_group", {"name": "x"}),
            ("ports", "port", {"network_id": "{shared}"}),
            ("floatingips", "floatingip", {"floating_network_id": "{ext}"}),
        ):
            out.append(
                Case(who, "POST", f"/v2.0/{coll}", 403, {member: body}, "PolicyNotAuthorized")
            )
        for path in ("/v2.0/default-security-group-rules/{dsg_rule}", "/v2.0/quotas/{project_a}"):
            status = 403 if who in (READER_A, READER_B) or "quotas" in path else 404
            out.append(Case(who, "DELETE", path, status))
    for who in BAD_TOKENS:
        out.append(Case(who, "POST", "/v2.0/networks", 401, {"network": {}}))
        out.append(Case(who, "POST", "/v2.0/ports", 401, {"port": {"network_id": "{shared}"}}))
    return out


def _identity() -> list[Case]:
    """Keystone: projects, users, roles, grants of project A."""
    out: list[Case] = []
    grant = "/v3/projects/{project_a}/users/{user_member_b}/roles/{role_admin}"
    for who in CALLERS:
        bad = who in BAD_TOKENS
        admin = who == "admin"
        in_a = who in (OWNER, READER_A)
        deny = 401 if bad else 403

        def st(ok: bool, success: int = 200, deny: int = deny, bad: bool = bad) -> int:
            return success if ok and not bad else deny

        out += [
            Case(who, "GET", "/v3/projects/{project_a}", st(admin or in_a)),
            Case(who, "GET", "/v3/projects", st(admin)),
            Case(who, "GET", "/v3/users", st(admin)),
            Case(who, "GET", "/v3/users/{user_member_a}", st(admin or who == OWNER)),
            Case(who, "GET", "/v3/roles", st(who not in NO_PROJECT)),
            Case(who, "GET", "/v3/role_assignments?scope.project.id={project_a}", st(admin)),
            Case(
                who,
                "PATCH",
                "/v3/projects/{project_b}",
                st(admin),
                {"project": {"description": "d"}},
            ),
        ]
        if not admin:  # the admin would do these for real
            out += [
                Case(who, "PUT", grant, deny),
                Case(who, "POST", "/v3/roles", deny, {"role": {"name": "x-" + who}}),
                Case(who, "DELETE", "/v3/users/{user_noroles}", deny),
                Case(who, "DELETE", "/v3/projects/{project_a}", deny),
                Case(who, "DELETE", "/v3/roles/{role_reader}", deny),
            ]
    return out


CASES = cases()


def test_the_matrix_is_large_enough() -> None:
    assert len(CASES) >= 300
    assert len({c.id for c in CASES}) == len(CASES)  # every case is distinct


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_isolation(world: World, case: Case) -> None:
    r = world.call(case.who, case.method, case.path, _fill(case.body, world.ids))
    assert r.status_code == case.status, r.text
    if case.error is not None:
        assert r.json()["NeutronError"]["type"] == case.error, r.text
    if case.listed is not None:
        body = r.json()
        found = {x["id"] for x in body[case.collection.replace("-", "_")]}
        world_ids = {world.ids[k]: k for k in COLLECTIONS[case.collection]}
        seen = {world_ids[i] for i in found if i in world_ids}
        assert seen == set(case.listed), (seen, case.listed)
        if case.who in NO_PROJECT:
            assert found == set(), found  # nothing project-owned, nothing project-less
        elif case.who != "admin":
            project = world.ids["project_" + str(_project(case.who))]
            for item in body[case.collection.replace("-", "_")]:
                if item.get("project_id", project) != project:
                    assert _foreign_visible(world, case, item), item


def _foreign_visible(world: World, case: Case, item: dict[str, Any]) -> bool:
    """Another project's item a scoped caller may list: a shared or external network and its
    subnets, a port on a network of the caller's project (Neutron's network-owner rule)."""
    ids = world.ids
    if case.collection == "networks":
        return bool(item["shared"] or item["router:external"])
    if case.collection == "subnets":
        return item["network_id"] in (ids["shared"], ids["ext"])
    if case.collection == "ports":
        owned = {"a": (ids["net_a"], ids["shared"]), "b": (ids["net_b"],)}
        return item["network_id"] in owned[str(_project(case.who))]
    return False
