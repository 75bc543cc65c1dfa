"""Trunks on SQLite and PostgreSQL: Neutron's validation, errors (type and status) and
policy; sub-port actions; ``trunk_details`` on the parent; sub-port binding to the parent's
host and the trunk status that follows; ports in a trunk cannot be deleted; list semantics
and tags."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.test_agent_api import register
from tests.conftest import Caller

TRUNKS = "/v2.0/trunks"


def trunk(caller: Caller, port_id: str, status: int = 201, **attrs: Any) -> Any:
    r = caller.post(TRUNKS, {"trunk": {"port_id": port_id, **attrs}})
    assert r.status_code == status, r.text
    return r.json()["trunk"] if status == 201 else r.json()["NeutronError"]


def action(caller: Caller, trunk_id: str, verb: str, subs: Any, status: int = 200) -> Any:
    r = caller.put(f"{TRUNKS}/{trunk_id}/{verb}", {"sub_ports": subs})
    assert r.status_code == status, r.text
    return r.json() if status == 200 else r.json()["NeutronError"]


def vlan(port_id: str, seg_id: int) -> dict[str, Any]:
    return {"port_id": port_id, "segmentation_type": "vlan", "segmentation_id": seg_id}


@pytest.fixture
def nets(api: Caller) -> dict[str, Any]:
    parent_net = api.network(name="parent")
    child_net = api.network(name="child")
    return {
        "parent": api.port(parent_net["id"]),
        "children": [api.port(child_net["id"]) for _ in range(3)],
        "child_net": child_net,
    }


def test_create_show_list_update_delete(api: Caller, nets: dict[str, Any]) -> None:
    parent, kids = nets["parent"], nets["children"]
    made = trunk(api, parent["id"], name="t", sub_ports=[vlan(kids[0]["id"], 100)])
    assert made["port_id"] == parent["id"] and made["status"] == "DOWN"
    assert made["admin_state_up"] is True and made["revision_number"] >= 0
    assert made["sub_ports"] == [
        {"segmentation_id": 100, "segmentation_type": "vlan", "port_id": kids[0]["id"]}
    ]
    assert made["project_id"] == made["tenant_id"] == api.project_id
    assert api.get(f"{TRUNKS}/{made['id']}").json()["trunk"]["sub_ports"] == made["sub_ports"]
    assert [t["id"] for t in api.get(TRUNKS).json()["trunks"]] == [made["id"]]
    r = api.put(f"{TRUNKS}/{made['id']}", {"trunk": {"name": "u", "admin_state_up": False}})
    assert r.status_code == 200 and r.json()["trunk"]["name"] == "u"
    # a disabled trunk can neither change its sub-ports nor be deleted
    err = action(api, made["id"], "add_subports", [vlan(kids[1]["id"], 101)], 409)
    assert err["type"] == "TrunkDisabled"
    assert api.delete(f"{TRUNKS}/{made['id']}").json()["NeutronError"]["type"] == "TrunkDisabled"
    api.put(f"{TRUNKS}/{made['id']}", {"trunk": {"admin_state_up": True}})
    assert api.delete(f"{TRUNKS}/{made['id']}").status_code == 204
    assert api.get(f"{TRUNKS}/{made['id']}").json()["NeutronError"]["type"] == "TrunkNotFound"
    # the sub-port was released: no owner left, deletable
    freed = api.get(f"/v2.0/ports/{kids[0]['id']}").json()["port"]
    assert freed["device_owner"] == ""
    assert api.delete(f"/v2.0/ports/{kids[0]['id']}").status_code == 204


def test_subport_actions_and_trunk_details(api: Caller, nets: dict[str, Any]) -> None:
    parent, kids = nets["parent"], nets["children"]
    made = trunk(api, parent["id"])
    added = action(
        api, made["id"], "add_subports", [vlan(kids[0]["id"], 10), vlan(kids[1]["id"], 11)]
    )
    assert [s["segmentation_id"] for s in added["sub_ports"]] == [10, 11]
    got = api.get(f"{TRUNKS}/{made['id']}/get_subports").json()
    assert got == {"sub_ports": added["sub_ports"]}
    details = api.get(f"/v2.0/ports/{parent['id']}").json()["port"]["trunk_details"]
    assert details["trunk_id"] == made["id"]
    assert {(s["port_id"], s["mac_address"]) for s in details["sub_ports"]} == {
        (kids[0]["id"], kids[0]["mac_address"]),
        (kids[1]["id"], kids[1]["mac_address"]),
    }
    listed = {p["id"]: p for p in api.get("/v2.0/ports").json()["ports"]}
    assert listed[parent["id"]]["trunk_details"] == details
    assert "trunk_details" not in listed[kids[0]["id"]]  # only the parent has the key
    assert listed[kids[0]["id"]]["device_owner"] == "trunk:subport"
    removed = action(api, made["id"], "remove_subports", [{"port_id": kids[0]["id"]}])
    assert [s["port_id"] for s in removed["sub_ports"]] == [kids[1]["id"]]
    again = api.get("/v2.0/ports").json()["ports"]
    shown = next(p for p in again if p["id"] == parent["id"])
    assert [s["port_id"] for s in shown["trunk_details"]["sub_ports"]] == [kids[1]["id"]]
    err = action(api, made["id"], "remove_subports", [{"port_id": kids[0]["id"]}], 404)
    assert err["type"] == "SubPortNotFound"


@pytest.mark.parametrize(
    ("sub", "status", "kind"),
    [
        ({"segmentation_type": "vlan", "segmentation_id": 0}, 400, "InvalidInput"),
        ({"segmentation_type": "vlan", "segmentation_id": 4095}, 400, "InvalidInput"),
        ({"segmentation_type": "vlan", "segmentation_id": "x"}, 400, "InvalidInput"),
        ({"segmentation_type": "vxlan", "segmentation_id": 5}, 400, "InvalidInput"),
        ({"segmentation_type": "vlan"}, 400, "InvalidInput"),
        ({"segmentation_type": "inherit"}, 400, "InvalidInput"),  # a vxlan network
    ],
)
def test_bad_segmentation(
    api: Caller, nets: dict[str, Any], sub: dict[str, Any], status: int, kind: str
) -> None:
    err = trunk(
        api, nets["parent"]["id"], status, sub_ports=[{"port_id": nets["children"][0]["id"], **sub}]
    )
    assert err["type"] == kind, err
    assert api.get(TRUNKS).json()["trunks"] == []


@pytest.mark.parametrize(
    "subs",
    [
        "nope",
        ["nope"],
        [{"segmentation_type": "vlan", "segmentation_id": 3}],
        [{"port_id": "not-a-uuid", "segmentation_type": "vlan", "segmentation_id": 3}],
        # An unhashable type next to a plain id once reached the uniqueness check: a 500.
        [{"port_id": str(uuid.uuid4()), "segmentation_type": {"a": [1]}, "segmentation_id": 3}],
    ],
)
def test_hostile_subports_body(api: Caller, nets: dict[str, Any], subs: Any) -> None:
    made = trunk(api, nets["parent"]["id"])
    assert trunk(api, nets["children"][0]["id"], 400, sub_ports=subs)["type"] in (
        "InvalidInput",
        "HTTPBadRequest",
    )
    r = api.put(f"{TRUNKS}/{made['id']}/add_subports", {"sub_ports": subs})
    assert r.status_code == 400, r.text
    # Removing checks the body's shape, then each port: a well-formed stranger is a 404.
    r = api.put(f"{TRUNKS}/{made['id']}/remove_subports", {"sub_ports": subs})
    assert r.status_code in (400, 404), r.text
    for body in (None, [], {"sub_ports": subs, "x": 1}, {}):
        r = api.put(f"{TRUNKS}/{made['id']}/add_subports", body)
        assert r.status_code == 400, (body, r.text)


def test_conflicts(api: Caller, nets: dict[str, Any]) -> None:
    parent, kids = nets["parent"], nets["children"]
    made = trunk(api, parent["id"], sub_ports=[vlan(kids[0]["id"], 7)])
    assert trunk(api, parent["id"], 409)["type"] == "ParentPortInUse"
    assert trunk(api, kids[0]["id"], 409)["type"] == "TrunkPortInUse"
    err = action(api, made["id"], "add_subports", [vlan(kids[1]["id"], 7)], 409)
    assert err["type"] == "DuplicateSubPort"
    err = action(api, made["id"], "add_subports", [vlan(parent["id"], 8)], 409)
    assert err["type"] == "ParentPortInUse"
    err = action(api, made["id"], "add_subports", [vlan(kids[0]["id"], 9)], 409)
    assert err["type"] == "TrunkPortInUse"
    other = trunk(api, kids[2]["id"])
    err = action(api, made["id"], "add_subports", [vlan(kids[2]["id"], 9)], 409)
    assert err["type"] == "ParentPortInUse"
    api.delete(f"{TRUNKS}/{other['id']}")
    used = api.port(nets["child_net"]["id"], device_id="vm-1")
    assert (
        action(api, made["id"], "add_subports", [vlan(used["id"], 9)], 409)["type"] == "PortInUse"
    )
    missing = "00000000-0000-4000-8000-000000000000"
    assert (
        action(api, made["id"], "add_subports", [vlan(missing, 9)], 404)["type"] == "PortNotFound"
    )
    assert trunk(api, missing, 404)["type"] == "PortNotFound"
    # ports in a trunk cannot be deleted
    r = api.delete(f"/v2.0/ports/{parent['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "PortInUseAsTrunkParent"
    r = api.delete(f"/v2.0/ports/{kids[0]['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "PortInUseAsSubPort"
    # read-only attributes
    r = api.put(f"{TRUNKS}/{made['id']}", {"trunk": {"port_id": kids[1]["id"]}})
    assert r.status_code == 400
    r = api.put(f"{TRUNKS}/{made['id']}", {"trunk": {"sub_ports": []}})
    assert r.status_code == 400


def test_subport_mtu_above_parent_refused(api: Caller) -> None:
    small = api.network(mtu=1400)
    big = api.network()
    parent = api.port(small["id"])
    err = trunk(api, parent["id"], 409, sub_ports=[vlan(api.port(big["id"])["id"], 5)])
    assert err["type"] == "SubPortMtuGreaterThanTrunkPortMtu"


def test_inherit_takes_the_networks_vlan(api: Caller) -> None:
    r = api.post(
        "/v2.0/networks",
        {
            "network": {
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "provider:segmentation_id": 42,
            }
        },
    )
    if r.status_code != 201:
        pytest.skip(f"no VLAN range configured: {r.text}")
    parent_net = api.network(
        **{"provider:network_type": "vlan", "provider:physical_network": "physnet1"}
    )  # the same MTU as the sub-port's network (a VXLAN one is smaller)
    parent = api.port(parent_net["id"])
    sub = api.port(r.json()["network"]["id"])
    made = trunk(
        api, parent["id"], sub_ports=[{"port_id": sub["id"], "segmentation_type": "inherit"}]
    )
    assert made["sub_ports"][0]["segmentation_id"] == 42


def test_isolation(api: Caller, nets: dict[str, Any]) -> None:
    made = trunk(api, nets["parent"]["id"], sub_ports=[vlan(nets["children"][0]["id"], 3)])
    other = api.as_member()
    assert other.get(TRUNKS).json()["trunks"] == []
    for r in (
        other.get(f"{TRUNKS}/{made['id']}"),
        other.get(f"{TRUNKS}/{made['id']}/get_subports"),
        other.put(f"{TRUNKS}/{made['id']}", {"trunk": {"name": "x"}}),
        other.delete(f"{TRUNKS}/{made['id']}"),
        other.put(f"{TRUNKS}/{made['id']}/add_subports", {"sub_ports": []}),
    ):
        assert r.status_code == 404, r.text
    # another project's port is not a port it can trunk
    mine = other.port(other.network()["id"])
    assert trunk(other, nets["children"][1]["id"], 404)["type"] == "PortNotFound"
    t2 = trunk(other, mine["id"])
    assert (
        action(other, t2["id"], "add_subports", [vlan(nets["children"][1]["id"], 4)], 404)["type"]
        == "PortNotFound"
    )
    reader = api.as_reader(api.project_id)
    assert reader.get(f"{TRUNKS}/{made['id']}").status_code == 200
    assert reader.put(f"{TRUNKS}/{made['id']}", {"trunk": {"name": "x"}}).status_code == 403
    assert reader.post(TRUNKS, {"trunk": {"port_id": nets["children"][2]["id"]}}).status_code == 403


def test_list_semantics_and_tags(api: Caller) -> None:
    net = api.network()
    made = [trunk(api, api.port(net["id"])["id"], name=f"t{i}") for i in range(3)]
    names = [
        t["name"]
        for t in api.get(TRUNKS, params={"sort_key": "name", "sort_dir": "desc"}).json()["trunks"]
    ]
    assert names == ["t2", "t1", "t0"]
    page = api.get(TRUNKS, params={"limit": 2, "sort_key": "name"}).json()
    assert [t["name"] for t in page["trunks"]] == ["t0", "t1"] and page["trunks_links"]
    assert [t["id"] for t in api.get(TRUNKS, params={"name": "t1"}).json()["trunks"]] == [
        made[1]["id"]
    ]
    assert api.get(TRUNKS, params={"status": "DOWN", "fields": "id"}).json()["trunks"][
        0
    ].keys() == {"id"}
    assert api.get(TRUNKS, params={"admin_state_up": "maybe"}).status_code == 400
    assert api.get(TRUNKS, params={"bogus": "1"}).status_code == 400
    r = api.put(f"{TRUNKS}/{made[0]['id']}/tags", {"tags": ["red", "blue"]})
    assert r.status_code == 200, r.text
    assert [t["id"] for t in api.get(TRUNKS, params={"tags": "red"}).json()["trunks"]] == [
        made[0]["id"]
    ]


def test_subports_follow_the_parents_binding(api: Caller, nets: dict[str, Any]) -> None:
    """The parent bound to a host: sub-ports go to that host; this host's agent reports no
    VLAN tagging (the kernels here cannot), so they fail to bind with that reason and the
    trunk is ERROR; an agent that can tag binds them and the trunk is ACTIVE."""
    parent, kids = nets["parent"], nets["children"]
    register(api, "hv1", vlan_unavailable="8021q refused by the kernel")
    register(api, "hv2", trunk_segmentation_types=["vlan"])
    made = trunk(api, parent["id"], sub_ports=[vlan(kids[0]["id"], 5)])
    api.put(f"/v2.0/ports/{parent['id']}", {"port": {"binding:host_id": "hv1"}})
    sub = api.get(f"/v2.0/ports/{kids[0]['id']}").json()["port"]
    assert sub["binding:host_id"] == "hv1" and sub["binding:vif_type"] == "binding_failed"
    assert "8021q" in sub["binding:vif_details"]["binding_failure_reason"]
    assert api.get(f"{TRUNKS}/{made['id']}").json()["trunk"]["status"] == "ERROR"
    err = action(api, made["id"], "add_subports", [vlan(kids[1]["id"], 6)], 409)
    assert err["type"] == "TrunkInErrorState"
    api.put(f"/v2.0/ports/{parent['id']}", {"port": {"binding:host_id": "hv2"}})
    sub = api.get(f"/v2.0/ports/{kids[0]['id']}").json()["port"]
    assert sub["binding:host_id"] == "hv2" and sub["binding:vif_type"] == "bridge"
    assert api.get(f"{TRUNKS}/{made['id']}").json()["trunk"]["status"] == "ACTIVE"
    api.put(f"/v2.0/ports/{parent['id']}", {"port": {"binding:host_id": ""}})
    sub = api.get(f"/v2.0/ports/{kids[0]['id']}").json()["port"]
    assert sub["binding:host_id"] == "" and sub["binding:vif_type"] == "unbound"
    assert api.get(f"{TRUNKS}/{made['id']}").json()["trunk"]["status"] == "DOWN"


def test_vlan_network_binding_names_the_missing_kernel_support(api: Caller) -> None:
    r = api.post(
        "/v2.0/networks",
        {"network": {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}},
    )
    if r.status_code != 201:
        pytest.skip(f"no VLAN range configured: {r.text}")
    register(api, "hv1", segment_types=["vxlan", "flat"], vlan_unavailable="8021q refused")
    port = api.port(r.json()["network"]["id"], **{"binding:host_id": "hv1"})
    assert port["binding:vif_type"] == "binding_failed"
    assert "8021q refused" in port["binding:vif_details"]["binding_failure_reason"]


def test_a_tagging_agent_binds_vlan_ports_and_its_reports_drive_the_trunk(api: Caller) -> None:
    """An agent whose kernel tags (``segment_types`` with ``vlan``, ``trunk_segmentation_types``
    ``["vlan"]``, as the agent registers after a good probe): a VLAN network's port binds, the
    host state gives each sub-port its parent and tag, and the trunk follows the agent's
    reports: DEGRADED while the parent is wired and a sub-port is not, ACTIVE when both are."""
    register(
        api,
        "hv1",
        segment_types=["flat", "vlan", "vxlan"],
        trunk_segmentation_types=["vlan"],
    )
    r = api.post(
        "/v2.0/networks",
        {
            "network": {
                "provider:network_type": "vlan",
                "provider:physical_network": "physnet1",
                "mtu": 1450,  # not above the (VXLAN) parent's
            }
        },
    )
    assert r.status_code == 201, r.text
    vlan_net = r.json()["network"]
    parent = api.port(api.network()["id"])
    sub = api.port(vlan_net["id"])
    made = trunk(api, parent["id"], sub_ports=[vlan(sub["id"], 7)])
    api.put(f"/v2.0/ports/{parent['id']}", {"port": {"binding:host_id": "hv1"}})
    shown = api.get(f"/v2.0/ports/{sub['id']}").json()["port"]
    assert shown["binding:vif_type"] == "bridge", shown["binding:vif_details"]
    ports = {p["id"]: p for p in api.get("/agent/v1/hosts/hv1/state").json()["state"]["ports"]}
    assert ports[sub["id"]]["trunk_parent"] == parent["id"] and ports[sub["id"]]["vlan_id"] == 7
    assert ports[parent["id"]]["trunk_parent"] is None

    def report(port_id: str, status: str) -> None:
        path = f"/agent/v1/ports/{port_id}/status"
        r = api.post(path, {"port": {"status": status, "host": "hv1"}})
        assert r.status_code == 200, r.text

    def status() -> str:
        return str(api.get(f"{TRUNKS}/{made['id']}").json()["trunk"]["status"])

    assert status() == "ACTIVE"  # bound, nothing wired yet
    report(parent["id"], "ACTIVE")
    assert status() == "DEGRADED"
    report(sub["id"], "ACTIVE")
    assert status() == "ACTIVE"
    report(sub["id"], "DOWN")
    assert status() == "DEGRADED"
    report(parent["id"], "DOWN")
    assert status() == "ACTIVE"
