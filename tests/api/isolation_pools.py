"""The isolation matrix's "use" cases for subnet pools, address scopes and address groups:
project B using A's pools, scopes and groups (private, or shared to B by a policy) and the
admin-only attributes.
Every case must fail, so the world stays as built."""

from __future__ import annotations

from typing import Any

from tests.api.isolation_uses import Case
from tests.api.isolation_world import MEMBER_B, READER_B


def _rbac(object_type: str, key: str, target: str) -> dict[str, Any]:
    return {
        "rbac_policy": {
            "object_type": object_type,
            "object_id": "{" + key + "}",
            "action": "access_as_shared",
            "target_tenant": target,
        }
    }


def pool_cases() -> list[Case]:
    b = MEMBER_B
    subnet = {"network_id": "{net_b}", "ip_version": 4, "prefixlen": 24}
    pools = "/v2.0/subnetpools"
    return [
        # a subnet from A's private pool: the pool is not there for B
        Case(
            b,
            "POST",
            "/v2.0/subnets",
            404,
            {"subnet": {**subnet, "subnetpool_id": "{pool_a}"}},
            "SubnetPoolNotFound",
        ),
        # a reader of B may not carve from the pool shared to it
        Case(
            READER_B,
            "POST",
            "/v2.0/subnets",
            403,
            {"subnet": {**subnet, "subnetpool_id": "{pool_to_b}"}},
        ),
        # B's pool may not join A's private scope; shared, default: the admin's to set
        Case(
            b,
            "POST",
            pools,
            404,
            {
                "subnetpool": {
                    "name": "x",
                    "prefixes": ["10.50.0.0/16"],
                    "address_scope_id": "{scope_a}",
                }
            },
            "AddressScopeNotFound",
        ),
        Case(
            b,
            "POST",
            pools,
            403,
            {"subnetpool": {"name": "x", "prefixes": ["10.51.0.0/16"], "shared": True}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "POST",
            pools,
            403,
            {"subnetpool": {"name": "x", "prefixes": ["10.52.0.0/16"], "is_default": True}},
            "PolicyNotAuthorized",
        ),
        Case(
            b,
            "POST",
            "/v2.0/address-scopes",
            403,
            {"address_scope": {"name": "x", "ip_version": 4, "shared": True}},
            "PolicyNotAuthorized",
        ),
        # the prefix actions are the owner's: 404 unseen, 403 seen
        Case(b, "PUT", pools + "/{pool_a}/add_prefixes", 404, {"prefixes": ["10.60.0.0/16"]}),
        Case(b, "PUT", pools + "/{pool_to_b}/add_prefixes", 403, {"prefixes": ["10.61.0.0/16"]}),
        Case(
            b, "PUT", pools + "/{pool_shared}/remove_prefixes", 403, {"prefixes": ["10.102.0.0/24"]}
        ),
        # B may not share what is A's (seen or not) nor widen the admin's scope
        Case(b, "POST", "/v2.0/rbac-policies", 404, _rbac("subnetpool", "pool_a", "{project_b}")),
        Case(
            b,
            "POST",
            "/v2.0/rbac-policies",
            400,
            _rbac("subnetpool", "pool_to_b", "{project_b}"),
            "InvalidInput",
        ),
        Case(
            b,
            "POST",
            "/v2.0/rbac-policies",
            400,
            _rbac("address_scope", "scope_shared", "{project_b}"),
            "InvalidInput",
        ),
        Case(
            b,
            "POST",
            "/v2.0/rbac-policies",
            404,
            _rbac("address_scope", "scope_a", "{project_b}"),
            "AddressScopeNotFound",
        ),
        # tags of pools: the owner's
        Case(b, "PUT", pools + "/{pool_to_b}/tags/t", 403),
        Case(b, "PUT", pools + "/{pool_a}/tags/t", 404),
        *address_group_cases(),
    ]


def address_group_cases() -> list[Case]:
    b = MEMBER_B
    groups = "/v2.0/address-groups"
    rule = {"direction": "ingress", "security_group_id": "{sg_b}"}
    return [
        # the address actions are the owner's: 404 unseen, 403 seen
        Case(b, "PUT", groups + "/{ag_a}/add_addresses", 404, {"addresses": ["10.0.0.0/8"]}),
        Case(b, "PUT", groups + "/{ag_to_b}/add_addresses", 403, {"addresses": ["10.0.0.0/8"]}),
        Case(
            b,
            "PUT",
            groups + "/{ag_to_b}/remove_addresses",
            403,
            {"addresses": ["192.0.2.16/28"]},
        ),
        # a rule of B's may not name A's private group
        Case(
            b,
            "POST",
            "/v2.0/security-group-rules",
            404,
            {"security_group_rule": {**rule, "remote_address_group_id": "{ag_a}"}},
            "AddressGroupNotFound",
        ),
        # B may not share what is A's (seen or not)
        Case(b, "POST", "/v2.0/rbac-policies", 404, _rbac("address_group", "ag_a", "{project_b}")),
        Case(
            b,
            "POST",
            "/v2.0/rbac-policies",
            400,
            _rbac("address_group", "ag_to_b", "{project_b}"),
            "InvalidInput",
        ),
    ]
