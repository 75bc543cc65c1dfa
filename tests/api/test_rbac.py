"""RBAC policies (``/v2.0/rbac-policies``) on SQLite and PostgreSQL: Neutron's semantics for
``access_as_shared`` and ``access_as_external`` on networks."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller

RBAC = "/v2.0/rbac-policies"


def _policy(
    caller: Caller,
    network_id: str,
    target: str,
    action: str = "access_as_shared",
    status: int = 201,
) -> Any:
    r = caller.post(
        RBAC,
        {
            "rbac_policy": {
                "object_type": "network",
                "object_id": network_id,
                "action": action,
                "target_tenant": target,
            }
        },
    )
    assert r.status_code == status, r.text
    return r.json()["rbac_policy"] if status == 201 else r.json()["NeutronError"]


def test_share_to_one_project(api: Caller) -> None:
    owner, target, third = api.as_member(), api.as_member(), api.as_member()
    net = owner.network(name="n")
    sub = owner.subnet(net["id"], "192.0.2.0/24")
    assert target.get(f"/v2.0/networks/{net['id']}").status_code == 404
    pol = _policy(owner, net["id"], target.project_id)
    assert pol["target_tenant"] == target.project_id and pol["project_id"] == owner.project_id
    assert set(pol) >= {"id", "object_type", "object_id", "action", "tenant_id"}
    # the target sees the network (shared: true for it), its subnet, and may put ports on it
    shown = target.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert shown["shared"] is True
    assert net["id"] in {n["id"] for n in target.get("/v2.0/networks").json()["networks"]}
    assert [s["id"] for s in target.get("/v2.0/subnets").json()["subnets"]] == [sub["id"]]
    port = target.port(net["id"])
    assert port["project_id"] == target.project_id
    # the owner still sees shared: false (no wildcard); a third project sees nothing
    assert owner.get(f"/v2.0/networks/{net['id']}").json()["network"]["shared"] is False
    assert third.get(f"/v2.0/networks/{net['id']}").status_code == 404
    assert third.get("/v2.0/subnets").json()["subnets"] == []
    assert third.post("/v2.0/ports", {"port": {"network_id": net["id"]}}).status_code == 404
    # the policy is its owner's: the target does not see it
    assert target.get(f"{RBAC}/{pol['id']}").status_code == 404
    assert target.get(RBAC).json()["rbac_policies"] == []
    assert [p["id"] for p in owner.get(RBAC).json()["rbac_policies"]] == [pol["id"]]
    # removal refused while the target has a port; allowed once it is gone
    r = owner.delete(f"{RBAC}/{pol['id']}")
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "InvalidSharedSetting"
    assert target.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    assert owner.delete(f"{RBAC}/{pol['id']}").status_code == 204
    assert target.get(f"/v2.0/networks/{net['id']}").status_code == 404
    assert owner.get(f"{RBAC}/{pol['id']}").status_code == 404


def test_shared_flag_is_the_wildcard_policy(api: Caller) -> None:
    member = api.as_member()
    net = api.network(name="s", shared=True)
    policies = api.get(f"{RBAC}?object_id={net['id']}").json()["rbac_policies"]
    assert [(p["action"], p["target_tenant"]) for p in policies] == [("access_as_shared", "*")]
    port = member.port(net["id"])
    # unsharing is refused while another project uses it, as Neutron does
    r = api.put(f"/v2.0/networks/{net['id']}", {"network": {"shared": False}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "InvalidSharedSetting"
    r = api.delete(f"{RBAC}/{policies[0]['id']}")
    assert r.status_code == 409
    # a policy naming the member lets the wildcard go
    _policy(api, net["id"], member.project_id)
    assert api.delete(f"{RBAC}/{policies[0]['id']}").status_code == 204
    shown = api.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert shown["shared"] is False
    assert member.get(f"/v2.0/networks/{net['id']}").json()["network"]["shared"] is True
    assert member.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    # shared: true creates the wildcard again; false removes it
    api.put(f"/v2.0/networks/{net['id']}", {"network": {"shared": True}})
    wild = api.get(f"{RBAC}?object_id={net['id']}&target_tenant=*").json()["rbac_policies"]
    assert len(wild) == 1
    assert api.put(f"/v2.0/networks/{net['id']}", {"network": {"shared": False}}).status_code == 200
    assert api.get(f"{RBAC}?object_id={net['id']}&target_tenant=*").json()["rbac_policies"] == []
    # deleting the network deletes its policies
    assert api.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    assert api.get(f"{RBAC}?object_id={net['id']}").json()["rbac_policies"] == []


def test_policy_rules_and_validation(api: Caller) -> None:
    owner, other = api.as_member(), api.as_member()
    net = owner.network()
    # a member may not share to everyone; another project may not share what it cannot see
    err = _policy(owner, net["id"], "*", status=403)
    assert err["type"] == "PolicyNotAuthorized"
    assert _policy(other, net["id"], other.project_id, status=404)["type"] == "NetworkNotFound"
    # it may not share what it sees but does not own
    pol = _policy(owner, net["id"], other.project_id)
    err = _policy(other, net["id"], other.project_id, status=400)
    assert err["type"] == "InvalidInput"
    assert _policy(owner, net["id"], other.project_id, status=409)["type"] == "DuplicateRbacPolicy"
    bodies = [
        {
            "object_type": "router",
            "object_id": net["id"],
            "action": "access_as_shared",
            "target_tenant": "x",
        },
        {
            "object_type": "network",
            "object_id": net["id"],
            "action": "access_as_nothing",
            "target_tenant": "x",
        },
        {
            "object_type": "network",
            "object_id": net["id"],
            "action": "access_as_shared",
            "target_tenant": None,
        },
        {
            "object_type": "network",
            "object_id": net["id"],
            "action": "access_as_shared",
            "target_tenant": "1234" * 100,
        },
        {"object_type": "network", "object_id": net["id"], "action": "access_as_shared"},
        {
            "object_type": "network",
            "object_id": "not-a-uuid",
            "action": "access_as_shared",
            "target_tenant": "x",
        },
        {
            "object_type": "network",
            "object_id": net["id"],
            "action": "access_as_shared",
            "target_tenant": "x",
            "bogus": 1,
        },
    ]
    for body in bodies:
        r = owner.post(RBAC, {"rbac_policy": body})
        assert r.status_code == 400, (body, r.text)
    r = owner.post(
        RBAC,
        {"rbac_policy": {**bodies[0], "object_type": "network", "action": "access_as_nothing"}},
    )
    assert r.json()["NeutronError"]["type"] == "InvalidActionForType"
    # update: the target moves; object and action are fixed; '*' is the admin's
    third = api.as_member()
    r = owner.put(f"{RBAC}/{pol['id']}", {"rbac_policy": {"target_tenant": third.project_id}})
    assert r.status_code == 200 and r.json()["rbac_policy"]["target_tenant"] == third.project_id
    assert third.get(f"/v2.0/networks/{net['id']}").status_code == 200
    assert other.get(f"/v2.0/networks/{net['id']}").status_code == 404
    r = owner.put(f"{RBAC}/{pol['id']}", {"rbac_policy": {"action": "access_as_external"}})
    assert r.status_code == 400
    r = owner.put(f"{RBAC}/{pol['id']}", {"rbac_policy": {"target_tenant": "*"}})
    assert r.status_code == 403
    assert (
        other.put(f"{RBAC}/{pol['id']}", {"rbac_policy": {"target_tenant": "y"}}).status_code == 404
    )
    assert other.delete(f"{RBAC}/{pol['id']}").status_code == 404
    r = owner.get(f"{RBAC}/no-such-id")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "RbacPolicyNotFound"
    # the network's revision moves with its policies
    before = owner.get(f"/v2.0/networks/{net['id']}").json()["network"]["revision_number"]
    assert owner.delete(f"{RBAC}/{pol['id']}").status_code == 204
    after = owner.get(f"/v2.0/networks/{net['id']}").json()["network"]["revision_number"]
    assert after > before


def test_list_semantics_and_quota(api: Caller) -> None:
    owner = api.as_member()
    net = owner.network()
    targets = sorted(f"project-{i}" for i in range(5))
    made = [_policy(owner, net["id"], t) for t in targets]
    listed = owner.get(f"{RBAC}?sort_key=target_tenant&sort_dir=desc").json()["rbac_policies"]
    assert [p["target_tenant"] for p in listed] == targets[::-1]
    page = owner.get(f"{RBAC}?limit=2&sort_key=target_tenant").json()
    assert [p["target_tenant"] for p in page["rbac_policies"]] == targets[:2]
    assert any(link["rel"] == "next" for link in page["rbac_policies_links"])
    r = owner.get(f"{RBAC}?fields=id&fields=action").json()["rbac_policies"]
    assert all(set(p) == {"id", "action"} for p in r)
    r = owner.get(f"{RBAC}?target_tenant={targets[1]}").json()["rbac_policies"]
    assert [p["id"] for p in r] == [made[1]["id"]]
    assert owner.get(f"{RBAC}?bogus=1").status_code == 400
    assert owner.get(f"{RBAC}?sort_key=bogus").status_code == 400
    # Neutron's default quota of RBAC policies is 10 per project
    quota = owner.get(f"/v2.0/quotas/{owner.project_id}").json()["quota"]
    assert quota["rbac_policy"] == 10
    for i in range(5):
        _policy(owner, net["id"], f"more-{i}")
    err = _policy(owner, net["id"], "one-too-many", status=409)
    assert err["type"] == "OverQuota"


def test_access_as_external(api: Caller) -> None:
    member, third = api.as_member(), api.as_member()
    net = api.network(name="ext")
    api.subnet(net["id"], "198.51.100.0/24")
    pol = _policy(api, net["id"], member.project_id, action="access_as_external")
    # the network becomes external; only the target sees it, and may not put ports on it
    assert api.get(f"/v2.0/networks/{net['id']}").json()["network"]["router:external"] is True
    assert member.get(f"/v2.0/networks/{net['id']}").status_code == 200
    assert third.get(f"/v2.0/networks/{net['id']}").status_code == 404
    r = member.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert r.status_code == 403
    # the target may gateway a router on it; the policy is then in use
    router = member.create(
        "routers", "router", name="r", external_gateway_info={"network_id": net["id"]}
    )
    assert router["external_gateway_info"]["network_id"] == net["id"]
    r = third.post(
        "/v2.0/routers", {"router": {"external_gateway_info": {"network_id": net["id"]}}}
    )
    assert r.status_code == 404
    r = api.delete(f"{RBAC}/{pol['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "RbacPolicyInUse"
    member.put(f"/v2.0/routers/{router['id']}", {"router": {"external_gateway_info": {}}})
    assert api.delete(f"{RBAC}/{pol['id']}").status_code == 204
    # the last external policy gone, the network is internal again
    assert api.get(f"/v2.0/networks/{net['id']}").json()["network"]["router:external"] is False
    # router:external: true is a wildcard external policy
    ext = api.network(name="pub", **{"router:external": True})
    pols = api.get(f"{RBAC}?object_id={ext['id']}").json()["rbac_policies"]
    assert [(p["action"], p["target_tenant"]) for p in pols] == [("access_as_external", "*")]
    assert third.get(f"/v2.0/networks/{ext['id']}").status_code == 200


def test_hostile_input_is_4xx(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    for body in (
        None,
        [],
        "x",
        {"rbac_policy": None},
        {"rbac_policy": []},
        {
            "rbac_policy": {
                "object_type": 1,
                "object_id": net["id"],
                "action": "access_as_shared",
                "target_tenant": "x",
            }
        },
        {
            "rbac_policy": {
                "object_type": "network",
                "object_id": net["id"],
                "action": ["access_as_shared"],
                "target_tenant": "x",
            }
        },
        {
            "rbac_policy": {
                "object_type": "network",
                "object_id": net["id"],
                "action": "access_as_shared",
                "target_tenant": {"a": 1},
            }
        },
        {
            "rbac_policy": {
                "object_type": "network",
                "object_id": net["id"],
                "action": "access_as_shared",
                "target_tenant": "x",
                "target_project": "y",
            }
        },
        {
            "rbac_policy": {
                "object_type": "network",
                "object_id": net["id"],
                "action": "access_as_shared",
                "target_tenant": "a\x00b",
            }
        },
        {"rbac_policies": [{"object_type": "network"}]},
    ):
        r = member.post(RBAC, body)
        assert 400 <= r.status_code < 500, (body, r.text)
    pol = _policy(member, net["id"], "t")
    for body in (
        None,
        {"rbac_policy": {"target_tenant": None}},
        {"rbac_policy": {"target_tenant": "x" * 300}},
        {"rbac_policy": {"object_id": net["id"]}},
    ):
        r = member.put(f"{RBAC}/{pol['id']}", body)
        assert 400 <= r.status_code < 500, (body, r.text)
    for path in (
        f"{RBAC}?limit=-1",
        f"{RBAC}?marker=nope",
        f"{RBAC}?sort_dir=up&sort_key=id",
        f"{RBAC}/%00",
    ):
        r = member.get(path)
        assert 400 <= r.status_code < 500, (path, r.text)
    r = member.get(f"{RBAC}?object_id=%ff&target_tenant=x")  # odd, but only a filter
    assert r.status_code == 200 and r.json()["rbac_policies"] == []
    r = member.get(f"{RBAC}?target_tenant=%00")  # the request guard refuses NUL anywhere
    assert r.status_code == 400 and "NeutronError" in r.json()
    assert member.delete(f"{RBAC}/{'x' * 500}").status_code == 404


def test_security_group_shared_to_one_project(api: Caller) -> None:
    owner, target, third = api.as_member(), api.as_member(), api.as_member()
    sg = owner.create("security-groups", "security_group", name="web")
    net = target.network()
    target.subnet(net["id"], "192.0.2.0/24")
    r = target.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "security_groups": [sg["id"]]}}
    )
    assert r.status_code == 404
    r = owner.post(
        RBAC,
        {
            "rbac_policy": {
                "object_type": "security_group",
                "object_id": sg["id"],
                "action": "access_as_shared",
                "target_tenant": target.project_id,
            }
        },
    )
    assert r.status_code == 201, r.text
    pol = r.json()["rbac_policy"]
    assert pol["object_type"] == "security_group"
    # the target sees it (shared to it), binds a port to it, may not change it
    shown = target.get(f"/v2.0/security-groups/{sg['id']}").json()["security_group"]
    assert shown["shared"] is True
    assert (
        owner.get(f"/v2.0/security-groups/{sg['id']}").json()["security_group"]["shared"] is False
    )
    assert sg["id"] in {
        g["id"] for g in target.get("/v2.0/security-groups").json()["security_groups"]
    }
    port = target.port(net["id"], security_groups=[sg["id"]])
    assert port["security_groups"] == [sg["id"]]
    r = target.put(f"/v2.0/security-groups/{sg['id']}", {"security_group": {"name": "x"}})
    assert r.status_code == 403
    assert target.delete(f"/v2.0/security-groups/{sg['id']}").status_code == 403
    # a third project neither sees nor uses it
    assert third.get(f"/v2.0/security-groups/{sg['id']}").status_code == 404
    net3 = third.network()
    third.subnet(net3["id"], "198.51.100.0/24")
    r = third.post(
        "/v2.0/ports", {"port": {"network_id": net3["id"], "security_groups": [sg["id"]]}}
    )
    assert r.status_code == 404
    # only the owner shares it; the action must be access_as_shared
    r = target.post(
        RBAC,
        {
            "rbac_policy": {
                "object_type": "security_group",
                "object_id": sg["id"],
                "action": "access_as_shared",
                "target_tenant": third.project_id,
            }
        },
    )
    assert r.status_code == 400 and r.json()["NeutronError"]["type"] == "InvalidInput"
    r = owner.post(
        RBAC,
        {
            "rbac_policy": {
                "object_type": "security_group",
                "object_id": sg["id"],
                "action": "access_as_external",
                "target_tenant": third.project_id,
            }
        },
    )
    assert r.status_code == 400
    assert r.json()["NeutronError"]["type"] == "InvalidActionForType"
    # removal refused while the target's port uses it
    r = owner.delete(f"{RBAC}/{pol['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "RbacPolicyInUse"
    assert target.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    assert owner.delete(f"{RBAC}/{pol['id']}").status_code == 204
    assert target.get(f"/v2.0/security-groups/{sg['id']}").status_code == 404
    # deleting the group deletes its policies
    _ = owner.post(
        RBAC,
        {
            "rbac_policy": {
                "object_type": "security_group",
                "object_id": sg["id"],
                "action": "access_as_shared",
                "target_tenant": third.project_id,
            }
        },
    )
    assert owner.delete(f"/v2.0/security-groups/{sg['id']}").status_code == 204
    assert owner.get(f"{RBAC}?object_id={sg['id']}").json()["rbac_policies"] == []
