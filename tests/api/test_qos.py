"""QoS policies and bandwidth-limit rules on SQLite and PostgreSQL: Neutron's validation,
errors and policy (admin-only writes, shared policies readable and attachable by all), the
default policy, rule types from what the agents report, attachment to networks, ports and
floating IPs, in-use refusal, RBAC, tags and list semantics."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Caller

POLICIES = "/v2.0/qos/policies"
BW_PARAMS = [
    {
        "parameter_name": "max_kbps",
        "parameter_type": "range",
        "parameter_values": {"start": 0, "end": 2147483647},
    },
    {
        "parameter_name": "direction",
        "parameter_type": "choices",
        "parameter_values": ["egress", "ingress"],
    },
]


def agent(api: Caller, host: str = "hv1", types: dict[str, Any] | None = None) -> None:
    config = {"qos_rule_types": {"bandwidth_limit": BW_PARAMS} if types is None else types}
    r = api.post(
        "/agent/v1/agents",
        {
            "agent": {
                "host": host,
                "agent_type": "L2 agent",
                "binary": "neutrino-agent",
                "configurations": config,
            }
        },
    )
    assert r.status_code == 200, r.text


def policy(caller: Caller, status: int = 201, **attrs: Any) -> Any:
    r = caller.post(POLICIES, {"policy": {"name": attrs.pop("name", "q"), **attrs}})
    assert r.status_code == status, r.text
    return r.json()["policy"] if status == 201 else r.json()["NeutronError"]


def rule(caller: Caller, policy_id: str, status: int = 201, **attrs: Any) -> Any:
    r = caller.post(
        f"{POLICIES}/{policy_id}/bandwidth_limit_rules", {"bandwidth_limit_rule": attrs}
    )
    assert r.status_code == status, r.text
    return r.json()["bandwidth_limit_rule"] if status == 201 else r.json()["NeutronError"]


def test_policy_crud_and_rules_view(api: Caller) -> None:
    agent(api)
    made = policy(api, name="gold", description="d")
    assert made["shared"] is False and made["is_default"] is False and made["rules"] == []
    assert made["project_id"] == made["tenant_id"] == api.project_id
    assert made["tags"] == [] and made["revision_number"] == 0
    up = rule(api, made["id"], max_kbps=10000, max_burst_kbps=800)
    assert up == {
        "id": up["id"],
        "max_kbps": 10000,
        "max_burst_kbps": 800,
        "direction": "egress",
    }
    down = rule(api, made["id"], max_kbps=2000, direction="ingress")
    assert down["max_burst_kbps"] == 0
    shown = api.get(f"{POLICIES}/{made['id']}").json()["policy"]
    assert shown["revision_number"] == 2
    assert sorted((r["direction"], r["max_kbps"], r["type"]) for r in shown["rules"]) == [
        ("egress", 10000, "bandwidth_limit"),
        ("ingress", 2000, "bandwidth_limit"),
    ]
    assert all(r["qos_policy_id"] == made["id"] for r in shown["rules"])
    # one rule per direction
    err = rule(api, made["id"], 409, max_kbps=1, direction="ingress")
    assert err["type"] == "QoSRulesConflict" and down["id"] in err["message"]
    path = f"{POLICIES}/{made['id']}/bandwidth_limit_rules/{up['id']}"
    r = api.put(path, {"bandwidth_limit_rule": {"direction": "ingress"}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "QoSRulesConflict"
    r = api.put(path, {"bandwidth_limit_rule": {"max_kbps": 5000}})
    assert r.status_code == 200 and r.json()["bandwidth_limit_rule"]["max_kbps"] == 5000
    assert api.get(path).json()["bandwidth_limit_rule"]["max_kbps"] == 5000
    alias = f"/v2.0/qos/alias-bandwidth-limit-rules/{up['id']}"
    assert api.get(alias).json()["alias_bandwidth_limit_rule"]["max_kbps"] == 5000
    r = api.put(alias, {"alias_bandwidth_limit_rule": {"max_burst_kbps": 100}})
    assert r.status_code == 200 and r.json()["alias_bandwidth_limit_rule"]["max_burst_kbps"] == 100
    listed = api.get(f"{POLICIES}/{made['id']}/bandwidth_limit_rules?direction=ingress").json()
    assert [r["id"] for r in listed["bandwidth_limit_rules"]] == [down["id"]]
    assert api.delete(path).status_code == 204
    assert api.get(path).json()["NeutronError"]["type"] == "QosRuleNotFound"
    assert api.delete(alias).status_code == 404
    r = api.put(f"{POLICIES}/{made['id']}", {"policy": {"name": "silver", "description": "x"}})
    assert r.status_code == 200 and r.json()["policy"]["name"] == "silver"
    assert api.delete(f"{POLICIES}/{made['id']}").status_code == 204
    r = api.get(f"{POLICIES}/{made['id']}")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "QosPolicyNotFound"


@pytest.mark.parametrize(
    ("attrs", "reason"),
    [
        ({}, "max_kbps"),
        ({"max_kbps": -1}, "max_kbps"),
        ({"max_kbps": 2**31}, "max_kbps"),
        ({"max_kbps": "x"}, "max_kbps"),
        ({"max_kbps": 1, "direction": "up"}, "direction"),
        ({"max_kbps": 1, "max_burst_kbps": -5}, "max_burst_kbps"),
        ({"max_kbps": 1, "type": "dscp"}, "type"),
    ],
)
def test_rule_validation(api: Caller, attrs: dict[str, Any], reason: str) -> None:
    agent(api)
    made = policy(api)
    err = rule(api, made["id"], 400, **attrs)
    assert reason in err["message"]


def test_unsupported_rule_types_are_refused(api: Caller) -> None:
    made = policy(api)
    # no agent reports bandwidth_limit yet: refused as Neutron refuses what no driver enforces
    err = rule(api, made["id"], 409, max_kbps=1000)
    assert err["type"] == "QosRuleNotSupported"
    assert api.get("/v2.0/qos/rule-types").json() == {"rule_types": []}
    agent(api)
    agent(api, "hv2")
    assert api.get("/v2.0/qos/rule-types").json() == {"rule_types": [{"type": "bandwidth_limit"}]}
    detail = api.get("/v2.0/qos/rule-types/bandwidth_limit").json()["rule_type"]
    assert detail == {
        "type": "bandwidth_limit",
        "drivers": [{"name": "neutrino-agent", "supported_parameters": BW_PARAMS}],
    }
    assert api.get("/v2.0/qos/rule-types/dscp_marking").json()["rule_type"]["drivers"] == []
    assert api.get("/v2.0/qos/rule-types/nope").status_code == 404
    member = api.as_member()
    assert member.get("/v2.0/qos/rule-types").json() == {
        "rule_types": [{"type": "bandwidth_limit"}]
    }
    r = member.get("/v2.0/qos/rule-types/bandwidth_limit")
    assert r.status_code == 403 and r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    rule(api, made["id"], max_kbps=1000)
    for kind, body in (
        ("dscp_marking", {"dscp_mark": 16}),
        ("minimum_bandwidth", {"min_kbps": 1000}),
    ):
        r = api.post(f"{POLICIES}/{made['id']}/{kind}_rules", {f"{kind}_rule": body})
        assert r.status_code == 409, r.text
        assert r.json()["NeutronError"]["type"] == "QosRuleNotSupported"
        listed = api.get(f"{POLICIES}/{made['id']}/{kind}_rules").json()
        assert listed == {f"{kind}_rules": []}
    assert api.get(f"{POLICIES}/{made['id']}/nope_rules").status_code == 404


def test_policy_permissions_and_sharing(api: Caller) -> None:
    agent(api)
    member = api.as_member()
    other = api.as_member()
    err = policy(member, 403)
    assert err["type"] == "PolicyNotAuthorized"
    private = policy(api, project_id=member.project_id)
    shared = policy(api, shared=True, name="shared")
    rule(api, shared["id"], max_kbps=100)
    # the owner reads its policy, everyone reads the shared one; writes stay admin-only
    assert member.get(f"{POLICIES}/{private['id']}").status_code == 200
    assert other.get(f"{POLICIES}/{private['id']}").status_code == 404
    assert other.get(f"{POLICIES}/{shared['id']}").json()["policy"]["shared"] is True
    seen = {p["id"] for p in other.get(POLICIES).json()["policies"]}
    assert shared["id"] in seen and private["id"] not in seen
    assert member.put(f"{POLICIES}/{private['id']}", {"policy": {"name": "x"}}).status_code == 403
    assert other.put(f"{POLICIES}/{private['id']}", {"policy": {"name": "x"}}).status_code == 404
    assert member.delete(f"{POLICIES}/{private['id']}").status_code == 403
    assert rule(member, private["id"], 403, max_kbps=1)["type"] == "PolicyNotAuthorized"
    # a create is refused before the policy is looked up (Neutron): 403 even where unseen
    assert rule(other, private["id"], 403, max_kbps=1)["type"] == "PolicyNotAuthorized"
    assert rule(other, "nope", 403, max_kbps=1)["type"] == "PolicyNotAuthorized"
    rules = other.get(f"{POLICIES}/{shared['id']}/bandwidth_limit_rules").json()
    assert len(rules["bandwidth_limit_rules"]) == 1
    # attaching: own or shared policies only
    net = other.network()
    r = other.put(f"/v2.0/networks/{net['id']}", {"network": {"qos_policy_id": private["id"]}})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "QosPolicyNotFound"
    r = other.put(f"/v2.0/networks/{net['id']}", {"network": {"qos_policy_id": shared["id"]}})
    assert r.status_code == 200 and r.json()["network"]["qos_policy_id"] == shared["id"]
    # unsharing while another project uses it: refused
    r = api.put(f"{POLICIES}/{shared['id']}", {"policy": {"shared": False}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "RbacPolicyInUse"
    # RBAC: share the private policy with the other project by name
    r = api.post(
        "/v2.0/rbac-policies",
        {
            "rbac_policy": {
                "object_type": "qos_policy",
                "object_id": private["id"],
                "action": "access_as_shared",
                "target_tenant": other.project_id,
            }
        },
    )
    assert r.status_code == 201, r.text
    assert other.get(f"{POLICIES}/{private['id']}").json()["policy"]["shared"] is True
    port = other.port(net["id"], qos_policy_id=private["id"])
    assert port["qos_policy_id"] == private["id"]
    r = api.delete(f"/v2.0/rbac-policies/{r.json()['rbac_policy']['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "RbacPolicyInUse"


def test_in_use_and_attachment(api: Caller) -> None:
    agent(api)
    made = policy(api)
    net = api.network(qos_policy_id=made["id"])
    assert net["qos_policy_id"] == made["id"]
    err = api.delete(f"{POLICIES}/{made['id']}").json()["NeutronError"]
    assert err["type"] == "QosPolicyInUse"
    assert err["message"] == f"QoS Policy {made['id']} is used by network {net['id']}."
    api.put(f"/v2.0/networks/{net['id']}", {"network": {"qos_policy_id": None}})
    port = api.port(net["id"])
    assert port["qos_policy_id"] is None
    r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"qos_policy_id": made["id"]}})
    assert r.status_code == 200 and r.json()["port"]["qos_policy_id"] == made["id"]
    listed = api.get(f"/v2.0/ports?id={port['id']}").json()["ports"]
    assert listed[0]["qos_policy_id"] == made["id"]
    err = api.delete(f"{POLICIES}/{made['id']}").json()["NeutronError"]
    assert err["message"].endswith(f"is used by port {port['id']}.")
    for bad in ("x", 5, "00000000-0000-0000-0000-000000000000"):
        r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"qos_policy_id": bad}})
        assert r.status_code in (400, 404), r.text
    assert (
        api.put(f"/v2.0/ports/{port['id']}", {"port": {"qos_policy_id": None}}).status_code == 200
    )
    assert api.delete(f"{POLICIES}/{made['id']}").status_code == 204


def test_floating_ip_policy(api: Caller) -> None:
    agent(api)
    made = policy(api)
    ext = api.network(**{"router:external": True})
    api.subnet(ext["id"], "203.0.113.0/24")
    fip = api.create("floatingips", "floatingip", floating_network_id=ext["id"])
    assert fip["qos_policy_id"] is None
    r = api.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"qos_policy_id": made["id"]}})
    assert r.status_code == 200 and r.json()["floatingip"]["qos_policy_id"] == made["id"]
    err = api.delete(f"{POLICIES}/{made['id']}").json()["NeutronError"]
    assert err["message"].endswith(f"is used by floatingip {fip['id']}.")
    fip2 = api.create(
        "floatingips", "floatingip", floating_network_id=ext["id"], qos_policy_id=made["id"]
    )
    assert fip2["qos_policy_id"] == made["id"]


def test_default_policy(api: Caller) -> None:
    member = api.as_member()
    first = policy(api, is_default=True, project_id=member.project_id)
    err = policy(api, 409, is_default=True, project_id=member.project_id)
    assert err["type"] == "QoSPolicyDefaultAlreadyExists"
    second = policy(api, project_id=member.project_id)
    r = api.put(f"{POLICIES}/{second['id']}", {"policy": {"is_default": True}})
    assert r.status_code == 409
    net = member.network()
    assert net["qos_policy_id"] == first["id"]  # the project's default
    assert member.network(qos_policy_id=None)["qos_policy_id"] is None
    assert api.network()["qos_policy_id"] is None  # another project: no default
    api.put(f"{POLICIES}/{first['id']}", {"policy": {"is_default": False}})
    r = api.put(f"{POLICIES}/{second['id']}", {"policy": {"is_default": True}})
    assert r.status_code == 200 and r.json()["policy"]["is_default"] is True


def test_list_semantics_and_tags(api: Caller) -> None:
    made = [policy(api, name=n) for n in ("c", "a", "b")]
    names = [p["name"] for p in api.get(f"{POLICIES}?sort_key=name").json()["policies"]]
    assert names == ["a", "b", "c"]
    page = api.get(f"{POLICIES}?sort_key=name&limit=2").json()
    assert [p["name"] for p in page["policies"]] == ["a", "b"]
    assert page["policies_links"][0]["rel"] == "next"
    only = api.get(f"{POLICIES}?fields=id&fields=name&name=b").json()["policies"]
    assert only == [{"id": made[2]["id"], "name": "b"}]
    assert api.get(f"{POLICIES}?is_default=maybe").status_code == 400
    assert api.get(f"{POLICIES}?nope=1").status_code == 400
    assert api.get(f"{POLICIES}?marker=00000000-0000-0000-0000-000000000000").status_code == 404
    tagged = f"{POLICIES}/{made[0]['id']}/tags"
    assert api.put(tagged, {"tags": ["red", "blue"]}).json() == {"tags": ["blue", "red"]}
    assert api.put(f"{tagged}/green").status_code == 201
    assert api.get(f"{tagged}/green").status_code == 204
    assert [p["id"] for p in api.get(f"{POLICIES}?tags=red").json()["policies"]] == [made[0]["id"]]
    assert api.get(f"{POLICIES}/{made[0]['id']}").json()["policy"]["tags"] == [
        "blue",
        "green",
        "red",
    ]
    assert api.delete(f"{tagged}/green").status_code == 204
    with_tags = policy(api, tags=["x"])
    assert with_tags["tags"] == ["x"]


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"policy": []},
        {"policy": {"name": 5}},
        {"policy": {"shared": "maybe"}},
        {"policy": {"name": "x" * 256}},
        {"policy": {"rules": []}},
        {"policy": {"id": "x"}},
    ],
)
def test_hostile_policy_bodies(api: Caller, body: Any) -> None:
    r = api.post(POLICIES, body)
    assert r.status_code == 400, r.text
    assert r.json()["NeutronError"]["type"]


def test_tags_at_neutrons_policies_path(api: Caller) -> None:
    """Neutron's tag extension serves QoS policies' tags at ``/v2.0/policies/{id}/tags``
    (tempest's TagQosPolicyTestJSON and TagFilterQosPolicyTestJSON use it)."""
    made = policy(api)
    tagged = f"/v2.0/policies/{made['id']}/tags"
    assert api.put(tagged, {"tags": ["red", "blue"]}).json() == {"tags": ["blue", "red"]}
    assert api.put(f"{tagged}/green").status_code == 201
    assert api.get(tagged).json() == {"tags": ["blue", "green", "red"]}
    assert api.get(f"{POLICIES}/{made['id']}/tags/green").status_code == 204
    assert [p["id"] for p in api.get(f"{POLICIES}?tags=green").json()["policies"]] == [made["id"]]
    assert api.delete(f"{tagged}/red").status_code == 204
    assert api.delete(tagged).status_code == 204
    assert api.get(f"{POLICIES}/{made['id']}").json()["policy"]["tags"] == []
    r = api.get("/v2.0/policies/00000000-0000-0000-0000-000000000000/tags")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "QosPolicyNotFound"


def test_member_bodies_are_validated_before_the_policy_check(api: Caller) -> None:
    """Neutron validates a body before its policy and lookup checks: a member's too-long name,
    description or project id is a 400, not a 403 or a 404 (tempest's QosNegativeTestJSON)."""
    member = api.as_member()
    for attrs in ({"name": "z" * 256}, {"description": "z" * 256}, {"project_id": "z" * 256}):
        assert policy(member, 400, **attrs)["type"] in ("HTTPBadRequest", "BadRequest")
    assert policy(member, 403)["type"] == "PolicyNotAuthorized"
    foreign = policy(api)  # the admin's own project: the member cannot see it
    for attrs in ({"name": "z" * 256}, {"description": "z" * 256}):
        r = member.put(f"{POLICIES}/{foreign['id']}", {"policy": attrs})
        assert r.status_code == 400, r.text
    r = member.put(f"{POLICIES}/{foreign['id']}", {"policy": {"name": "ok"}})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "QosPolicyNotFound"


def test_unsharing_counts_the_owners_own_users(api: Caller) -> None:
    """``shared`` back to false removes the wildcard policy; Neutron refuses it while any
    project without a named policy uses the policy, the owner included (tempest's
    RbacSharedQosPoliciesTest.test_policy_sharing_with_wildcard)."""
    made = policy(api, shared=True)
    net = api.network(qos_policy_id=made["id"])  # the owner's own network
    r = api.put(f"{POLICIES}/{made['id']}", {"policy": {"shared": False}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "RbacPolicyInUse"
    assert api.get(f"{POLICIES}/{made['id']}").json()["policy"]["shared"] is True
    assert api.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    r = api.put(f"{POLICIES}/{made['id']}", {"policy": {"shared": False}})
    assert r.status_code == 200 and r.json()["policy"]["shared"] is False


def test_a_project_removes_only_policies_it_sees(api: Caller) -> None:
    """An admin's private policy on a project's network or port: the project may not detach
    or replace it (403 ``PolicyRemoveAuthorizationError``) until the policy is shared
    (tempest's test_attach_and_detach_a_policy_by_a_project)."""
    agent(api)
    member = api.as_member()
    private = policy(api)
    net = member.network()
    port = member.port(net["id"])
    for path, key in (
        (f"/v2.0/networks/{net['id']}", "network"),
        (f"/v2.0/ports/{port['id']}", "port"),
    ):
        assert api.put(path, {key: {"qos_policy_id": private["id"]}}).status_code == 200
        r = member.put(path, {key: {"qos_policy_id": None}})
        assert r.status_code == 403, r.text
        assert r.json()["NeutronError"]["type"] == "PolicyRemoveAuthorizationError"
        assert member.get(path).json()[key]["qos_policy_id"] == private["id"]
    api.put(f"{POLICIES}/{private['id']}", {"policy": {"shared": True}})
    own = policy(api, project_id=member.project_id)
    r = member.put(f"/v2.0/networks/{net['id']}", {"network": {"qos_policy_id": own["id"]}})
    assert r.status_code == 200 and r.json()["network"]["qos_policy_id"] == own["id"]
    r = member.put(f"/v2.0/ports/{port['id']}", {"port": {"qos_policy_id": None}})
    assert r.status_code == 200 and r.json()["port"]["qos_policy_id"] is None
    r = member.delete(f"{POLICIES}/{private['id']}")
    assert r.status_code == 403
