"""The isolation matrix's cases of "use" (project B creating or changing things with A's
network, subnet, port, router, security group or remote group, and the admin-only and
network-owner-only attributes) and of Keystone (projects, users, roles, grants)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from tests.api.isolation_world import (
    BAD_TOKENS,
    CALLERS,
    MEMBER_B,
    NO_PROJECT,
    NOROLES,
    OWNER,
    READER_A,
    READER_B,
    UNSCOPED,
)


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


def use_cases() -> list[Case]:
    """B using A's resources (and the admin-only or network-owner-only attributes)."""
    b = MEMBER_B
    port = "/v2.0/ports"

    def port_on(net: str, status: int, error: str | None = None, **attrs: Any) -> Case:
        body = {"port": {"network_id": "{" + net + "}", **attrs}}
        return Case(b, "POST", port, status, body, error)

    topology = "/v2.0/auto-allocated-topology/{project_a}"
    out = [
        # A's own topology: A's callers may look (no default external network here: 409),
        # only its members and the admin remove it, B neither
        *(
            Case(who, "GET", topology + "?fields=dry-run", status, None, error)
            for who, status, error in (
                ("admin", 409, "AutoAllocationFailure"),
                (OWNER, 409, "AutoAllocationFailure"),
                (READER_A, 409, "AutoAllocationFailure"),
                (MEMBER_B, 403, "NotAuthorized"),
                (READER_B, 403, "NotAuthorized"),
            )
        ),
        Case(READER_A, "DELETE", topology, 403, None, "PolicyNotAuthorized"),
        Case(MEMBER_B, "DELETE", topology, 403, None, "NotAuthorized"),
        Case(OWNER, "DELETE", topology, 204),
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
        # RBAC: shared to B by name, B may use it as a shared network; shared to C, B may not
        port_on("net_to_c", 404, "NetworkNotFound"),
        port_on("net_to_b", 403, "PolicyNotAuthorized", mac_address="fa:16:3e:12:34:58"),
        port_on("net_to_b", 201, fixed_ips=[{"subnet_id": "{sub_to_b}"}]),
        Case(
            b,
            "POST",
            "/v2.0/subnets",
            404,
            {"subnet": {"network_id": "{net_to_c}", "cidr": "192.0.2.32/28", "ip_version": 4}},
            "NetworkNotFound",
        ),
        Case(
            b,
            "POST",
            "/v2.0/subnets",
            403,
            {"subnet": {"network_id": "{net_to_b}", "cidr": "192.0.2.48/28", "ip_version": 4}},
            "PolicyNotAuthorized",
        ),
        # B may not share A's networks on, nor take its own access away
        Case(
            b,
            "POST",
            "/v2.0/rbac-policies",
            400,
            {
                "rbac_policy": {
                    "object_type": "network",
                    "object_id": "{net_to_b}",
                    "action": "access_as_shared",
                    "target_tenant": "{project_b}",
                }
            },
            "InvalidInput",
        ),
        Case(
            b,
            "POST",
            "/v2.0/rbac-policies",
            404,
            {
                "rbac_policy": {
                    "object_type": "network",
                    "object_id": "{net_to_c}",
                    "action": "access_as_shared",
                    "target_tenant": "{project_b}",
                }
            },
            "NetworkNotFound",
        ),
        Case(
            b,
            "POST",
            "/v2.0/rbac-policies",
            403,
            {
                "rbac_policy": {
                    "object_type": "network",
                    "object_id": "{net_b}",
                    "action": "access_as_shared",
                    "target_tenant": "*",
                }
            },
            "PolicyNotAuthorized",
        ),
        Case(OWNER, "DELETE", "/v2.0/rbac-policies/{rbac_to_b}", 409, None, "InvalidSharedSetting"),
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


def identity_cases() -> list[Case]:
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
