"""The isolation matrix's cases: who sees what of the world (``isolation_world``) and, for
every caller, resource and verb, the exact status Neutron or Keystone answers."""

from __future__ import annotations

from typing import Any

from tests.api.isolation_pools import pool_cases
from tests.api.isolation_uses import Case, identity_cases, use_cases
from tests.api.isolation_world import (
    BAD_TOKENS,
    CALLERS,
    MEMBER_B,
    OWNER,
    QOS_RULES,
    READER_A,
    READER_B,
)

# --- who sees what ---------------------------------------------------------------------------

QOS_RULE_KEYS = (
    *(key for key, _ in QOS_RULES.values()),
    *(f"alias_{key}" for key, _ in QOS_RULES.values()),
    "dscp_shared",
)

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
    "fip_pf": ("/v2.0/floatingips/{fip_pf}", A),
    "pf_a": ("/v2.0/floatingips/{fip_pf}/port_forwardings/{pf_a}", A),
    "dsg_rule": ("/v2.0/default-security-group-rules/{dsg_rule}", ALL),
    "agent": ("/v2.0/agents/{agent}", NOBODY),
    # RBAC: A's networks shared by name to B, and to C (a project without callers here)
    "net_to_b": ("/v2.0/networks/{net_to_b}", ALL),
    "net_to_c": ("/v2.0/networks/{net_to_c}", A),
    "sub_to_b": ("/v2.0/subnets/{sub_to_b}", ALL),
    "sub_to_c": ("/v2.0/subnets/{sub_to_c}", A),
    "port_b_rbac": ("/v2.0/ports/{port_b_rbac}", ALL),  # B's, on A's network: A sees it
    "rbac_to_b": ("/v2.0/rbac-policies/{rbac_to_b}", A),  # a policy is its owner's alone
    "rbac_to_c": ("/v2.0/rbac-policies/{rbac_to_c}", A),
    # subnet pools and address scopes: private, shared to B by a policy, shared to all
    "pool_a": ("/v2.0/subnetpools/{pool_a}", A),
    "pool_to_b": ("/v2.0/subnetpools/{pool_to_b}", ALL),
    "pool_shared": ("/v2.0/subnetpools/{pool_shared}", ALL),
    "scope_a": ("/v2.0/address-scopes/{scope_a}", A),
    "scope_shared": ("/v2.0/address-scopes/{scope_shared}", ALL),
    # address groups: private, shared to B by a policy
    "ag_a": ("/v2.0/address-groups/{ag_a}", A),
    "ag_to_b": ("/v2.0/address-groups/{ag_to_b}", ALL),
    # QoS policies: read by their project (or all when shared), written by the admin only
    "qos_a": ("/v2.0/qos/policies/{qos_a}", A),
    "qos_shared": ("/v2.0/qos/policies/{qos_shared}", ALL),
    # their rules: seen with the policy, written by the admin; by id alone too (the alias)
    **{
        key: (f"/v2.0/qos/policies/{{qos_a}}/{rule_type}_rules/{{{key}}}", A)
        for rule_type, (key, _) in QOS_RULES.items()
    },
    **{
        f"alias_{key}": (f"/v2.0/qos/alias-{rule_type.replace('_', '-')}-rules/{{{key}}}", A)
        for rule_type, (key, _) in QOS_RULES.items()
    },
    "dscp_shared": ("/v2.0/qos/policies/{qos_shared}/dscp_marking_rules/{dscp_shared}", ALL),
    # service flavors: read by every caller holding a role, written by the admin; service
    # profiles: the admin's alone
    "flavor": ("/v2.0/flavors/{flavor}", ALL),
    "service_profile": ("/v2.0/service_profiles/{service_profile}", NOBODY),
    # network segment ranges: the admin's alone, A's own range included
    "range_a": ("/v2.0/network_segment_ranges/{range_a}", NOBODY),
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
    "fip_pf": "a",
    "pf_a": "a",
    "dsg_rule": "admin",
    "agent": "admin",
    "net_to_b": "a",
    "net_to_c": "a",
    "sub_to_b": "a",
    "sub_to_c": "a",
    "port_b_rbac": "b",
    "rbac_to_b": "a",
    "rbac_to_c": "a",
    "pool_a": "a",
    "pool_to_b": "a",
    "pool_shared": "admin",
    "scope_a": "a",
    "scope_shared": "admin",
    "qos_a": "a",
    "qos_shared": "admin",
    **{key: "admin" for key in QOS_RULE_KEYS},
    "ag_a": "a",
    "ag_to_b": "a",
    "flavor": "admin",
    "service_profile": "admin",
    "range_a": "admin",
}
COLLECTIONS = {
    "networks": ("net_a", "shared", "ext", "net_b", "net_to_b", "net_to_c"),
    "subnets": ("sub_a", "shared_sub", "ext_sub", "sub_to_b", "sub_to_c"),
    "ports": (
        "port_a",
        "port_a_shared",
        "port_b_shared",
        "if_port",
        "gw_port",
        "fip_port",
        "port_b_rbac",
    ),
    "rbac-policies": ("rbac_to_b", "rbac_to_c"),
    "security-groups": ("sg_a",),
    "security-group-rules": ("rule_a",),
    "routers": ("router_a",),
    "floatingips": ("fip_a", "fip_pf"),
    "default-security-group-rules": ("dsg_rule",),
    "agents": ("agent",),
    "subnetpools": ("pool_a", "pool_to_b", "pool_shared"),
    "address-scopes": ("scope_a", "scope_shared"),
    "qos/policies": ("qos_a", "qos_shared"),
    "address-groups": ("ag_a", "ag_to_b"),
    "flavors": ("flavor",),
    "service_profiles": ("service_profile",),
    "network_segment_ranges": ("range_a",),
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
    "fip_pf": {"floatingip": {"description": "n"}},
    "pf_a": {"port_forwarding": {"description": "n"}},
    "agent": {"agent": {"description": "n"}},
    "net_to_b": {"network": {"name": "n"}},
    "net_to_c": {"network": {"name": "n"}},
    "sub_to_b": {"subnet": {"name": "n"}},
    "port_b_rbac": {"port": {"name": "n"}},
    # the same target again: a write that changes nothing, so the world stays as built
    "rbac_to_b": {"rbac_policy": {"target_tenant": "{project_b}"}},
    "rbac_to_c": {"rbac_policy": {"target_tenant": "{project_c}"}},
    "pool_a": {"subnetpool": {"name": "n"}},
    "pool_to_b": {"subnetpool": {"name": "n"}},
    "pool_shared": {"subnetpool": {"name": "n"}},
    "scope_a": {"address_scope": {"name": "n"}},
    "scope_shared": {"address_scope": {"name": "n"}},
    "qos_a": {"policy": {"name": "n"}},
    "qos_shared": {"policy": {"name": "n"}},
    # the values they were made with: writes that change nothing
    **{key: {f"{t}_rule": attrs} for t, (key, attrs) in QOS_RULES.items()},
    **{f"alias_{key}": {f"alias_{t}_rule": attrs} for t, (key, attrs) in QOS_RULES.items()},
    "dscp_shared": {"dscp_marking_rule": {"dscp_mark": 10}},
    "ag_a": {"address_group": {"name": "n"}},
    "ag_to_b": {"address_group": {"name": "n"}},
    "flavor": {"flavor": {"name": "n"}},
    "service_profile": {"service_profile": {"description": "n"}},
    "range_a": {"network_segment_range": {"name": "n"}},
}


def project_of(who: str) -> str | None:
    return {OWNER: "a", READER_A: "a", MEMBER_B: "b", READER_B: "b"}.get(who)


def sees(who: str, key: str) -> bool:
    if who == "admin":
        return True
    project = project_of(who)
    return project is not None and project in ITEMS[key][1]


def may_write(who: str, key: str) -> bool:
    """Owner members (and admin) may change their resources; B may change its port on A's
    network, but A, the network's owner, may not (Neutron's update_port is the port's)."""
    if key in ADMIN_WRITES:
        return who == "admin"
    return who == "admin" or (who in (OWNER, MEMBER_B) and OWNED_BY[key] == project_of(who))


# Neutron: QoS policies, flavors and service profiles are the admin's
ADMIN_WRITES = frozenset({"qos_a", "qos_shared", "flavor", "service_profile", *QOS_RULE_KEYS})
# Neutron: an address group shared through RBAC is not found by a stranger's update or delete
HIDDEN_FROM_WRITERS = frozenset({"ag_to_b"})


# --- cases -----------------------------------------------------------------------------------


def _expected_item(who: str, key: str, write: bool) -> int:
    if who in BAD_TOKENS:
        return 401
    if not sees(who, key):
        return 404
    if not write:
        return 200
    if may_write(who, key):
        return 200
    if key in HIDDEN_FROM_WRITERS and project_of(who) != OWNED_BY[key]:
        return 404
    return 403


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
                and not (who == OWNER and key in ("port_b_shared", "port_b_rbac"))
            ):
                # deletes only where they must fail (the network's owner may delete B's port)
                out.append(Case(who, "DELETE", path, _expected_item(who, key, write=True)))
        for coll, keys in COLLECTIONS.items():
            if who in BAD_TOKENS:
                out.append(Case(who, "GET", f"/v2.0/{coll}", 401))
                continue
            visible = tuple(k for k in keys if sees(who, k))
            out.append(Case(who, "GET", f"/v2.0/{coll}", 200, listed=visible, collection=coll))
            if coll in ("networks", "ports", "subnets", "rbac-policies", "subnetpools"):
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
        out.extend(_qos_rule_lists(who))
    out.extend(use_cases())
    out.extend(pool_cases())
    out.extend(identity_cases())
    return out


def _qos_rule_lists(who: str) -> list[Case]:
    """Rule lists follow their policy's visibility; the rule types list is open to every
    caller with a role, a type's details (naming the drivers) to the admin alone."""
    bad = who in BAD_TOKENS
    out = [
        Case(
            who,
            "GET",
            f"/v2.0/qos/policies/{{{policy}}}/{rule_type}_rules",
            401 if bad else 200 if sees(who, policy) else 404,
        )
        for rule_type in QOS_RULES
        for policy in ("qos_a", "qos_shared")
    ]
    out.append(Case(who, "GET", "/v2.0/qos/rule-types", 401 if bad else 200))
    detail = 401 if bad else 200 if who == "admin" else 403
    out += [Case(who, "GET", f"/v2.0/qos/rule-types/{t}", detail) for t in QOS_RULES]
    return out


def _sub_resources(who: str) -> list[Case]:
    """Tags, quotas, port events, the agent API and the DHCP agent scheduler of A's
    resources."""
    bad = who in BAD_TOKENS
    tag_read = 401 if bad else (200 if sees(who, "net_a") else 404)
    tag_write = (
        401 if bad else (404 if not sees(who, "net_a") else 201 if may_write(who, "net_a") else 403)
    )
    quota_read = 401 if bad else 200 if who in ("admin", OWNER, READER_A) else 403
    quota_write = 401 if bad else 200 if who == "admin" else 403
    events = 401 if bad else 200 if sees(who, "port_a") else 404
    agent_api = 401 if bad else 200 if who == "admin" else 403
    pf_read = 401 if bad else 200 if sees(who, "fip_pf") else 404
    # a writer of A's gets past policy to the body's check (not A's port address: 400)
    pf_create = (
        401 if bad else 404 if not sees(who, "fip_pf") else 400 if may_write(who, "fip_pf") else 403
    )
    return [
        *_bindings(who),
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
        Case(who, "GET", "/v2.0/service-providers", 401 if bad else 200),
        # the DHCP agent scheduler is the admin's: the world's agent is an L2 agent, so the
        # admin's add is refused (InvalidDHCPAgent) and the world stays as built
        Case(who, "GET", "/v2.0/agents/{agent}/dhcp-networks", agent_api),
        Case(who, "GET", "/v2.0/networks/{net_a}/dhcp-agents", agent_api),
        Case(
            who,
            "POST",
            "/v2.0/agents/{agent}/dhcp-networks",
            404 if who == "admin" else agent_api,
            {"network_id": "{net_a}"},
            "InvalidDHCPAgent" if who == "admin" else None,
        ),
        Case(
            who,
            "DELETE",
            "/v2.0/agents/{agent}/dhcp-networks/{net_a}",
            409 if who == "admin" else agent_api,
        ),
        # so is the L3 agent scheduler: the world's L2 agent cannot host a router
        # (InvalidL3Agent) and removing a router it does not host changes nothing (204)
        Case(who, "GET", "/v2.0/agents/{agent}/l3-routers", agent_api),
        Case(
            who,
            "POST",
            "/v2.0/agents/{agent}/l3-routers",
            404 if who == "admin" else agent_api,
            {"router_id": "{router_a}"},
            "InvalidL3Agent" if who == "admin" else None,
        ),
        Case(
            who,
            "DELETE",
            "/v2.0/agents/{agent}/l3-routers/{router_a}",
            204 if who == "admin" else agent_api,
        ),
        # a floating IP's port forwardings are the floating IP's project's
        Case(who, "GET", "/v2.0/floatingips/{fip_pf}/port_forwardings", pf_read),
        Case(
            who,
            "POST",
            "/v2.0/floatingips/{fip_pf}/port_forwardings",
            pf_create,
            {
                "port_forwarding": {
                    "protocol": "udp",
                    "internal_port_id": "{pf_port}",
                    "internal_ip_address": "192.0.2.250",
                    "internal_port": 53,
                    "external_port": 53,
                }
            },
        ),
    ]


def _bindings(who: str) -> list[Case]:
    """A's VM port's bindings (``binding-extended``): the admin reads them, only the service
    role writes them (403 for the admin, even to create); A's callers see the port but none of
    its bindings (an empty list, 404 for one); everyone else finds no port."""
    base = "/v2.0/ports/{vm_a}/bindings"
    one = base + "/hv-matrix"
    if who in BAD_TOKENS:
        return [
            Case(who, "GET", base, 401),
            Case(who, "GET", one, 401),
            Case(who, "POST", base, 401, {"binding": {"host": "hv-x"}}),
            Case(who, "PUT", one + "/activate", 401),
            Case(who, "DELETE", one, 401),
        ]
    if who == "admin":
        hidden, hidden_type = 403, "PolicyNotAuthorized"
    elif sees(who, "port_a"):
        hidden, hidden_type = 404, "HTTPNotFound"
    else:
        hidden, hidden_type = 404, "PortNotFound"
    listing = 200 if sees(who, "port_a") else 404
    return [
        Case(who, "GET", base, listing, None, None if listing == 200 else "PortNotFound"),
        Case(
            who,
            "GET",
            one,
            200 if who == "admin" else 404,
            None,
            None if who == "admin" else hidden_type,
        ),
        Case(who, "POST", base, 403, {"binding": {"host": "hv-x"}}, "PolicyNotAuthorized"),
        Case(who, "PUT", one + "/activate", hidden, None, hidden_type),
        Case(who, "DELETE", one, hidden, None, hidden_type),
    ]


CASES = cases()
