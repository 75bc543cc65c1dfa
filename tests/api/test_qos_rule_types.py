"""QoS rule types beyond bandwidth limits on SQLite and PostgreSQL: DSCP-marking rules
(Neutron's marks, one per policy, the aliases, admin-only writes, the rule type's details)
and what reaches the agents' host state."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from neutrino.domain.qosstate import VALID_DSCP_MARKS
from tests.api.test_agent_api import register
from tests.api.test_qos import POLICIES, agent, policy
from tests.conftest import Caller

DSCP_PARAMS = [
    {
        "parameter_name": "dscp_mark",
        "parameter_type": "choices",
        "parameter_values": list(VALID_DSCP_MARKS),
    }
]
ALL_TYPES = {"dscp_marking": DSCP_PARAMS, "bandwidth_limit": []}


def rule(caller: Caller, kind: str, policy_id: str, status: int = 201, **attrs: Any) -> Any:
    r = caller.post(f"{POLICIES}/{policy_id}/{kind}_rules", {f"{kind}_rule": attrs})
    assert r.status_code == status, r.text
    return r.json()[f"{kind}_rule"] if status == 201 else r.json()["NeutronError"]


def test_dscp_rule_crud_alias_and_policy_view(api: Caller) -> None:
    agent(api, types=ALL_TYPES)
    made = policy(api)
    mark = rule(api, "dscp_marking", made["id"], dscp_mark=56)
    assert mark == {"id": mark["id"], "dscp_mark": 56}
    url = f"{POLICIES}/{made['id']}/dscp_marking_rules"
    assert api.get(f"{url}/{mark['id']}").json() == {"dscp_marking_rule": mark}
    assert api.get(url).json() == {"dscp_marking_rules": [mark]}
    assert api.get(f"{url}?dscp_mark=8").json() == {"dscp_marking_rules": []}
    # one DSCP rule per policy, whatever its mark (Neutron's QoSRulesConflict)
    err = rule(api, "dscp_marking", made["id"], 409, dscp_mark=48)
    assert err["type"] == "QoSRulesConflict" and mark["id"] in err["message"]
    # a DSCP rule and bandwidth limits live side by side
    rule(api, "bandwidth_limit", made["id"], max_kbps=1000)
    shown = api.get(f"{POLICIES}/{made['id']}").json()["policy"]
    assert sorted(r["type"] for r in shown["rules"]) == ["bandwidth_limit", "dscp_marking"]
    (dscp,) = [r for r in shown["rules"] if r["type"] == "dscp_marking"]
    assert dscp == {**mark, "qos_policy_id": made["id"], "type": "dscp_marking"}
    assert shown["revision_number"] == 2
    r = api.put(f"{url}/{mark['id']}", {"dscp_marking_rule": {"dscp_mark": 48}})
    assert r.status_code == 200 and r.json()["dscp_marking_rule"]["dscp_mark"] == 48
    alias = f"/v2.0/qos/alias-dscp-marking-rules/{mark['id']}"
    assert api.get(alias).json() == {"alias_dscp_marking_rule": {**mark, "dscp_mark": 48}}
    r = api.put(alias, {"alias_dscp_marking_rule": {"dscp_mark": 10}})
    assert r.status_code == 200 and r.json()["alias_dscp_marking_rule"]["dscp_mark"] == 10
    # the bandwidth-limit alias does not find a DSCP rule, nor the reverse
    assert api.get(f"/v2.0/qos/alias-bandwidth-limit-rules/{mark['id']}").status_code == 404
    assert api.delete(alias).status_code == 204
    r = api.get(f"{url}/{mark['id']}")
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "QosRuleNotFound"
    assert api.get(alias).status_code == 404


@pytest.mark.parametrize("bad", [58, 2, 42, 50, -8, 64, "x", None, []])
def test_dscp_marks_outside_neutrons_list_are_400(api: Caller, bad: Any) -> None:
    agent(api, types=ALL_TYPES)
    made = policy(api)
    err = rule(api, "dscp_marking", made["id"], 400, dscp_mark=bad)
    assert "dscp_mark" in err["message"]


def test_every_valid_mark_is_accepted_and_required(api: Caller) -> None:
    agent(api, types=ALL_TYPES)
    made = policy(api)
    assert "dscp_mark" in rule(api, "dscp_marking", made["id"], 400)["message"]
    mark = rule(api, "dscp_marking", made["id"], dscp_mark="0")  # Neutron converts to int
    url = f"{POLICIES}/{made['id']}/dscp_marking_rules/{mark['id']}"
    for value in VALID_DSCP_MARKS:
        r = api.put(url, {"dscp_marking_rule": {"dscp_mark": value}})
        assert r.status_code == 200 and r.json()["dscp_marking_rule"]["dscp_mark"] == value
    r = api.put(url, {"dscp_marking_rule": {"dscp_mark": 54}})
    assert r.status_code == 400, r.text


def test_dscp_policy_writes_and_reads_by_members(api: Caller) -> None:
    agent(api, types=ALL_TYPES)
    member = api.as_member()
    theirs = policy(api, project_id=member.project_id)
    mine = policy(api)
    r = member.post(
        f"{POLICIES}/{theirs['id']}/dscp_marking_rules", {"dscp_marking_rule": {"dscp_mark": 8}}
    )
    assert r.status_code == 403 and r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    mark = rule(api, "dscp_marking", theirs["id"], dscp_mark=8)
    url = f"{POLICIES}/{theirs['id']}/dscp_marking_rules/{mark['id']}"
    assert member.get(url).json() == {"dscp_marking_rule": mark}
    assert member.put(url, {"dscp_marking_rule": {"dscp_mark": 10}}).status_code == 403
    assert member.delete(url).status_code == 403
    # a policy the member cannot see: 404 for update, 403 for create (Neutron's order)
    hidden = f"{POLICIES}/{mine['id']}/dscp_marking_rules"
    assert member.get(hidden).status_code == 404
    assert member.put(f"{hidden}/{mark['id']}", {"dscp_marking_rule": {}}).status_code == 404
    # tempest's negative cases: no such policy, no such rule
    assert rule(api, "dscp_marking", "policy", 404, dscp_mark=16)["type"] == "QosPolicyNotFound"
    r = api.put(f"{POLICIES}/nope/dscp_marking_rules/{mark['id']}", {"dscp_marking_rule": {}})
    assert r.status_code == 404
    r = api.put(f"{POLICIES}/{mine['id']}/dscp_marking_rules/nope", {"dscp_marking_rule": {}})
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "QosRuleNotFound"


def test_dscp_rule_type_is_what_agents_report(api: Caller) -> None:
    made = policy(api)
    agent(api)  # reports bandwidth limits only: DSCP is refused
    err = rule(api, "dscp_marking", made["id"], 409, dscp_mark=16)
    assert err["type"] == "QosRuleNotSupported"
    agent(api, "hv2", types=ALL_TYPES)
    types = api.as_member().get("/v2.0/qos/rule-types").json()["rule_types"]
    assert types == [{"type": "bandwidth_limit"}, {"type": "dscp_marking"}]
    detail = api.get("/v2.0/qos/rule-types/dscp_marking").json()["rule_type"]
    assert detail == {
        "type": "dscp_marking",
        "drivers": [{"name": "neutrino-agent", "supported_parameters": DSCP_PARAMS}],
    }
    rule(api, "dscp_marking", made["id"], dscp_mark=16)


def host_ports(api: Caller, host: str) -> dict[str, Any]:
    r = api.get(f"/agent/v1/hosts/{host}/state")
    assert r.status_code == 200, r.text
    return {p["id"]: p for p in r.json()["state"]["ports"]}


def test_the_effective_policys_mark_reaches_the_host_state(api: Caller) -> None:
    register(api, "hv1", qos_rule_types=ALL_TYPES)
    net_policy, port_policy = policy(api, name="net"), policy(api, name="port")
    rule(api, "dscp_marking", net_policy["id"], dscp_mark=26)
    net = api.network(qos_policy_id=net_policy["id"])
    api.subnet(net["id"], "192.0.2.0/24")
    vm = api.port(net["id"], **{"binding:host_id": "hv1", "device_owner": "compute:nova"})
    own = api.port(net["id"], **{"binding:host_id": "hv1", "qos_policy_id": port_policy["id"]})
    dhcp = api.port(net["id"], **{"binding:host_id": "hv1", "device_owner": "network:dhcp"})
    ports = host_ports(api, "hv1")
    assert ports[vm["id"]]["dscp_mark"] == 26  # the network's policy
    assert ports[own["id"]]["dscp_mark"] is None  # its own policy, which marks nothing
    assert ports[dhcp["id"]]["dscp_mark"] is None  # the network's own ports: not by its policy
    mark = rule(api, "dscp_marking", port_policy["id"], dscp_mark=46)
    assert host_ports(api, "hv1")[own["id"]]["dscp_mark"] == 46
    url = f"{POLICIES}/{port_policy['id']}/dscp_marking_rules/{mark['id']}"
    assert api.delete(url).status_code == 204
    assert host_ports(api, "hv1")[own["id"]]["dscp_mark"] is None


MIN_BW = {"minimum_bandwidth": [], "bandwidth_limit": []}


def test_minimum_bandwidth_rules(api: Caller) -> None:
    agent(api, types=MIN_BW)
    made = policy(api)
    assert "min_kbps" in rule(api, "minimum_bandwidth", made["id"], 400)["message"]
    bad = rule(api, "minimum_bandwidth", made["id"], 400, min_kbps=1, direction="any")
    assert "direction" in bad["message"]
    out = rule(api, "minimum_bandwidth", made["id"], min_kbps=1138)
    assert out == {"id": out["id"], "min_kbps": 1138, "direction": "egress"}
    err = rule(api, "minimum_bandwidth", made["id"], 409, min_kbps=5, direction="egress")
    assert err["type"] == "QoSRulesConflict"
    into = rule(api, "minimum_bandwidth", made["id"], min_kbps=201, direction="ingress")
    url = f"{POLICIES}/{made['id']}/minimum_bandwidth_rules"
    assert [
        r["id"] for r in api.get(f"{url}?sort_key=min_kbps").json()["minimum_bandwidth_rules"]
    ] == [into["id"], out["id"]]
    r = api.put(f"{url}/{into['id']}", {"minimum_bandwidth_rule": {"direction": "egress"}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "QoSRulesConflict"
    # a limit below a guaranteed minimum of its direction, either way round
    err = rule(api, "bandwidth_limit", made["id"], 409, max_kbps=1000, direction="egress")
    assert err["type"] == "QoSRuleParameterConflict"
    assert err["message"] == (
        f"Unable to add the rule with value 1000 to the policy {made['id']} as the existing "
        "rule of type minimum_bandwidth has value 1138."
    )
    limit = rule(api, "bandwidth_limit", made["id"], max_kbps=300, direction="ingress")
    r = api.put(f"{url}/{into['id']}", {"minimum_bandwidth_rule": {"min_kbps": 301}})
    assert r.status_code == 409  # no direction given: every direction's limit counts
    r = api.put(f"{url}/{into['id']}", {"minimum_bandwidth_rule": {"min_kbps": 300}})
    assert r.status_code == 200, r.text
    alias = f"/v2.0/qos/alias-minimum-bandwidth-rules/{into['id']}"
    r = api.put(alias, {"alias_minimum_bandwidth_rule": {"min_kbps": 250}})
    assert r.status_code == 200 and r.json()["alias_minimum_bandwidth_rule"]["min_kbps"] == 250
    shown = api.get(f"{POLICIES}/{made['id']}").json()["policy"]["rules"]
    assert sorted(r["type"] for r in shown) == [
        "bandwidth_limit",
        "minimum_bandwidth",
        "minimum_bandwidth",
    ]
    assert limit["id"] in {r["id"] for r in shown}
    assert api.delete(alias).status_code == 204
    assert api.as_member().post(url, {"minimum_bandwidth_rule": {"min_kbps": 1}}).status_code == 403


def group_id(port_id: str, *rule_ids: str) -> str:
    return str(uuid.uuid5(uuid.UUID(port_id), ":".join(sorted(rule_ids))))


def test_ports_resource_request(api: Caller) -> None:
    register(api, "hv1", qos_rule_types=MIN_BW)
    made = policy(api)
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    vm = api.port(net["id"], **{"binding:host_id": "hv1", "binding:vnic_type": "direct"})
    plain = api.port(net["id"])
    assert vm["resource_request"] is None and plain["resource_request"] is None
    eg = rule(api, "minimum_bandwidth", made["id"], min_kbps=1000)
    ig = rule(api, "minimum_bandwidth", made["id"], min_kbps=2000, direction="ingress")
    rule(api, "bandwidth_limit", made["id"], max_kbps=5000)  # no resource of its own
    r = api.put(f"/v2.0/ports/{vm['id']}", {"port": {"qos_policy_id": made["id"]}})
    wanted = {
        "request_groups": [
            {
                "id": group_id(vm["id"], eg["id"], ig["id"]),
                "required": ["CUSTOM_NETWORK_TUNNEL_PROVIDER", "CUSTOM_VNIC_TYPE_DIRECT"],
                "resources": {
                    "NET_BW_EGR_KILOBIT_PER_SEC": 1000,
                    "NET_BW_IGR_KILOBIT_PER_SEC": 2000,
                },
            }
        ],
        "same_subtree": [group_id(vm["id"], eg["id"], ig["id"])],
    }
    assert r.json()["port"]["resource_request"] == wanted
    assert api.get(f"/v2.0/ports/{vm['id']}").json()["port"]["resource_request"] == wanted
    listed = {p["id"]: p for p in api.get("/v2.0/ports").json()["ports"]}  # the JSON path
    assert listed[vm["id"]]["resource_request"] == wanted
    assert listed[plain["id"]]["resource_request"] is None
    fields = api.get(f"/v2.0/ports?id={vm['id']}&fields=id&fields=resource_request").json()
    assert fields == {"ports": [{"id": vm["id"], "resource_request": wanted}]}
    # a member never sees it (admin only, as in Neutron)
    member = api.as_member()
    assert all("resource_request" not in p for p in member.get("/v2.0/ports").json()["ports"])
    # a network's policy reaches its ports without one of their own; a physnet's trait
    flat = api.network(
        **{"provider:network_type": "flat", "provider:physical_network": "physnet1"},
        qos_policy_id=made["id"],
    )
    on_flat = api.port(flat["id"])
    (made_group,) = on_flat["resource_request"]["request_groups"]
    assert made_group["required"] == ["CUSTOM_PHYSNET_PHYSNET1", "CUSTOM_VNIC_TYPE_NORMAL"]
    # the rule's change shows at once (the port's own view cache does not hold it)
    url = f"{POLICIES}/{made['id']}/minimum_bandwidth_rules/{ig['id']}"
    assert api.delete(url).status_code == 204
    listed = {p["id"]: p for p in api.get("/v2.0/ports").json()["ports"]}
    assert listed[vm["id"]]["resource_request"]["request_groups"][0]["resources"] == {
        "NET_BW_EGR_KILOBIT_PER_SEC": 1000
    }
    r = api.put(f"/v2.0/ports/{vm['id']}", {"port": {"qos_policy_id": None}})
    assert r.json()["port"]["resource_request"] is None


MIN_PPS = {"minimum_packet_rate": [], "minimum_bandwidth": []}


def test_minimum_packet_rate_rules(api: Caller) -> None:
    agent(api, types=MIN_PPS)
    made = policy(api)
    assert "min_kpps" in rule(api, "minimum_packet_rate", made["id"], 400)["message"]
    bad = rule(api, "minimum_packet_rate", made["id"], 400, min_kpps=1, direction="up")
    assert "direction" in bad["message"]
    eg = rule(api, "minimum_packet_rate", made["id"], min_kpps=1138)
    assert eg == {"id": eg["id"], "min_kpps": 1138, "direction": "egress"}
    err = rule(api, "minimum_packet_rate", made["id"], 409, min_kpps=2)
    assert err["type"] == "QoSRulesConflict"
    # "any" and a direction do not mix, whichever came first
    err = rule(api, "minimum_packet_rate", made["id"], 409, min_kpps=201, direction="any")
    assert err["type"] == "QoSRuleParameterConflict"
    assert err["message"] == (
        f"Unable to add the rule with value any to the policy {made['id']} as the existing "
        "rule of type minimum_packet_rate has value egress."
    )
    ig = rule(api, "minimum_packet_rate", made["id"], min_kpps=300, direction="ingress")
    url = f"{POLICIES}/{made['id']}/minimum_packet_rate_rules"
    r = api.put(f"{url}/{ig['id']}", {"minimum_packet_rate_rule": {"direction": "any"}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "QoSRuleParameterConflict"
    assert api.delete(f"{url}/{ig['id']}").status_code == 204
    r = api.put(
        f"{url}/{eg['id']}", {"minimum_packet_rate_rule": {"min_kpps": 350, "direction": "any"}}
    )
    assert r.json()["minimum_packet_rate_rule"] == {**eg, "min_kpps": 350, "direction": "any"}
    err = rule(api, "minimum_packet_rate", made["id"], 409, min_kpps=1, direction="egress")
    assert err["type"] == "QoSRuleParameterConflict"
    alias = f"/v2.0/qos/alias-minimum-packet-rate-rules/{eg['id']}"
    assert api.get(alias).json()["alias_minimum_packet_rate_rule"]["direction"] == "any"
    r = api.put(alias, {"alias_minimum_packet_rate_rule": {"min_kpps": 5}})
    assert r.status_code == 200 and r.json()["alias_minimum_packet_rate_rule"]["min_kpps"] == 5
    shown = api.get(f"{POLICIES}/{made['id']}").json()["policy"]["rules"]
    assert [(r["type"], r["min_kpps"]) for r in shown] == [("minimum_packet_rate", 5)]
    r = api.as_member().post(url, {"minimum_packet_rate_rule": {"min_kpps": 1}})
    assert r.status_code == 403
    assert api.delete(alias).status_code == 204 and api.get(alias).status_code == 404


def test_resource_request_with_bandwidth_and_packet_rate_groups(api: Caller) -> None:
    register(api, "hv1", qos_rule_types=MIN_PPS)
    made = policy(api)
    net = api.network()
    port = api.port(net["id"], qos_policy_id=made["id"])
    assert port["resource_request"] is None  # a policy without minimum rules
    pps = rule(api, "minimum_packet_rate", made["id"], min_kpps=1000, direction="any")
    wanted_pps = {
        "id": group_id(port["id"], pps["id"]),
        "required": ["CUSTOM_VNIC_TYPE_NORMAL"],
        "resources": {"NET_PACKET_RATE_KILOPACKET_PER_SEC": 1000},
    }
    shown = api.get(f"/v2.0/ports/{port['id']}").json()["port"]["resource_request"]
    assert shown == {"request_groups": [wanted_pps], "same_subtree": [wanted_pps["id"]]}
    bw = rule(api, "minimum_bandwidth", made["id"], min_kbps=10000)
    wanted_bw = {
        "id": group_id(port["id"], bw["id"]),
        "required": ["CUSTOM_NETWORK_TUNNEL_PROVIDER", "CUSTOM_VNIC_TYPE_NORMAL"],
        "resources": {"NET_BW_EGR_KILOBIT_PER_SEC": 10000},
    }
    listed = {p["id"]: p for p in api.get("/v2.0/ports").json()["ports"]}
    assert listed[port["id"]]["resource_request"] == {
        "request_groups": [wanted_bw, wanted_pps],
        "same_subtree": [wanted_bw["id"], wanted_pps["id"]],
    }
    url = f"{POLICIES}/{made['id']}/minimum_packet_rate_rules/{pps['id']}"
    api.put(url, {"minimum_packet_rate_rule": {"direction": "egress"}})
    groups = api.get(f"/v2.0/ports/{port['id']}").json()["port"]["resource_request"]
    assert groups["request_groups"][1]["resources"] == {
        "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC": 1000
    }


def other_driver(api: Caller, types: dict[str, Any]) -> None:
    """An agent of another binary: Neutron's second QoS driver."""
    r = api.post(
        "/agent/v1/agents",
        {
            "agent": {
                "host": "hv9",
                "agent_type": "L3 agent",
                "binary": "neutrino-l3-agent",
                "configurations": {"qos_rule_types": types},
            }
        },
    )
    assert r.status_code == 200, r.text


def type_names(caller: Caller, query: str = "") -> list[str]:
    r = caller.get(f"/v2.0/qos/rule-types{query}")
    assert r.status_code == 200, r.text
    return [t["type"] for t in r.json()["rule_types"]]


def test_rule_type_filter_flags(api: Caller) -> None:
    everything = [
        "bandwidth_limit",
        "dscp_marking",
        "minimum_bandwidth",
        "minimum_packet_rate",
        "packet_rate_limit",
    ]
    # no driver: nothing is supported, though every type exists
    assert type_names(api) == [] and type_names(api, "?all_supported=true") == []
    assert type_names(api.as_member(), "?all_rules=true") == everything
    agent(api, types=ALL_TYPES)
    other_driver(api, {"bandwidth_limit": []})
    # by default the types every driver supports; all_supported: any driver's
    assert type_names(api) == ["bandwidth_limit"]
    assert type_names(api, "?all_supported=false") == ["bandwidth_limit"]
    assert type_names(api, "?all_supported=True") == ["bandwidth_limit", "dscp_marking"]
    assert type_names(api, "?all_rules=1&all_supported=true") == everything
    assert type_names(api, "?all_rules=false&all_supported=false") == ["bandwidth_limit"]
    r = api.get("/v2.0/qos/rule-types?all_rules=true&fields=type")
    assert r.json()["rule_types"][0] == {"type": "bandwidth_limit"}


@pytest.mark.parametrize(
    "query", ["all_rules=maybe", "all_supported=2", "all_rules=true&all_rules=x"]
)
def test_rule_type_filter_values_must_be_booleans(api: Caller, query: str) -> None:
    r = api.get(f"/v2.0/qos/rule-types?{query}")
    assert r.status_code == 400, r.text
    err = r.json()["NeutronError"]
    assert err["type"] == "InvalidInput" and "cannot be converted to boolean" in err["message"]
