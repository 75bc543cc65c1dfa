"""Network segment ranges on SQLite and PostgreSQL: ``/v2.0/network_segment_ranges`` (and its
hyphenated twin), the default ranges from configuration, tenant networks drawing their VNI
from their project's ranges first, then the shared ones, and Neutron's errors."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller

RANGES = "/v2.0/network_segment_ranges"


def make(caller: Caller, status: int = 201, **attrs: Any) -> Any:
    r = caller.post(RANGES, {"network_segment_range": attrs})
    assert r.status_code == status, r.text
    return r.json()["network_segment_range"] if status == 201 else r.json()["NeutronError"]


def error(r: Any, status: int) -> str:
    assert r.status_code == status, r.text
    return str(r.json()["NeutronError"]["type"])


def test_default_ranges_come_from_configuration_and_are_read_only(api: Caller) -> None:
    listed = api.get(RANGES, params={"default": "true"}).json()["network_segment_ranges"]
    spans = {(d["network_type"], d["physical_network"], d["minimum"], d["maximum"]) for d in listed}
    assert spans == {("vxlan", None, 1, 65535), ("vlan", "physnet1", 100, 200)}
    vxlan = next(d for d in listed if d["network_type"] == "vxlan")
    assert vxlan["shared"] is True and vxlan["project_id"] is None and vxlan["name"] is None
    assert "tenant_id" not in vxlan and vxlan["tags"] == []
    net = api.network()
    shown = api.get(f"{RANGES}/{vxlan['id']}").json()["network_segment_range"]
    vni = net["provider:segmentation_id"]
    assert shown["used"] == {str(vni): api.project_id}
    assert vni not in shown["available"] and len(shown["available"]) == 65534
    r = api.put(f"{RANGES}/{vxlan['id']}", {"network_segment_range": {"name": "x"}})
    assert error(r, 400) == "NetworkSegmentRangeDefaultReadOnly"
    assert error(api.delete(f"{RANGES}/{vxlan['id']}"), 400) == "NetworkSegmentRangeDefaultReadOnly"
    fields = api.get(RANGES, params={"fields": ["id", "minimum"], "default": "true"}).json()
    assert all(set(d) == {"id", "minimum"} for d in fields["network_segment_ranges"])


def test_create_update_delete_and_both_paths(api: Caller) -> None:
    project = api.as_member().project_id
    made = make(
        api,
        name="r1",
        shared=False,
        project_id=project,
        network_type="vxlan",
        physical_network="",
        minimum=1100,
        maximum=1105,
    )
    assert made["default"] is False and made["shared"] is False
    assert made["project_id"] == project and made["physical_network"] is None
    assert made["used"] == {} and made["available"] == list(range(1100, 1106))
    assert made["revision_number"] == 0 and {"created_at", "updated_at"} <= made.keys()
    twin = api.get(f"/v2.0/network-segment-ranges/{made['id']}").json()
    assert twin["network_segment_range"]["id"] == made["id"]
    body = {"network_segment_range": {"name": "r2", "minimum": 1050, "maximum": 1155}}
    updated = api.put(f"/v2.0/network-segment-ranges/{made['id']}", body).json()
    assert updated["network_segment_range"]["minimum"] == 1050
    assert updated["network_segment_range"]["revision_number"] == 1
    listed = api.get(RANGES, params={"id": made["id"]}).json()["network_segment_ranges"]
    assert [x["name"] for x in listed] == ["r2"]
    assert api.get(RANGES, params={"id": "33"}).json()["network_segment_ranges"] == []
    assert api.put(f"{RANGES}/{made['id']}/tags/blue").status_code == 201
    assert api.get(RANGES, params={"tags": "blue"}).json()["network_segment_ranges"][0]["tags"]
    r = api.put(f"{RANGES}/{made['id']}", {"network_segment_range": {"shared": True}})
    assert r.status_code == 400
    assert api.delete(f"{RANGES}/{made['id']}").status_code == 204
    assert error(api.get(f"{RANGES}/{made['id']}"), 404) == "NetworkSegmentRangeNotFound"
    shared = make(api, network_type="vlan", physical_network="physnet9", minimum=5, maximum=9)
    assert shared["shared"] is True and shared["project_id"] is None
    assert shared["physical_network"] == "physnet9"


def test_validation_errors(api: Caller) -> None:
    base = {"network_type": "vxlan", "minimum": 10, "maximum": 20}
    assert make(api, 400, **{**base, "network_type": "gre"})["type"] == (
        "NetworkSegmentRangeNetTypeNotSupported"
    )
    assert make(api, 400, **{**base, "network_type": "flat"})["type"] == "HTTPBadRequest"
    assert make(api, 400, network_type="vxlan", minimum=1)["type"] == "HTTPBadRequest"
    assert make(api, 400, **{**base, "minimum": 0})["type"] == "HTTPBadRequest"
    assert make(api, 400, **{**base, "maximum": 2**32})["type"] == "HTTPBadRequest"
    assert make(api, 400, **{**base, "minimum": "x"})["type"] == "HTTPBadRequest"
    assert make(api, 400, **{**base, "maximum": 2**24})["type"] == "NetworkTunnelRangeError"
    assert make(api, 400, **{**base, "minimum": 30})["type"] == "NetworkTunnelRangeError"
    vlan = {"network_type": "vlan", "minimum": 10, "maximum": 4095, "physical_network": "p"}
    assert make(api, 400, **vlan)["type"] == "NetworkVlanRangeError"
    assert make(api, 400, network_type="vlan", minimum=1, maximum=2)["type"] == "HTTPBadRequest"
    assert make(api, 400, **base, shared=False, project_id="")["type"] == "HTTPBadRequest"
    assert make(api, 400, **base, bogus=1)["type"] == "HTTPBadRequest"
    first = make(api, **base)
    assert make(api, 409, **{**base, "minimum": 20, "maximum": 25})["type"] == (
        "NetworkSegmentRangeOverlaps"
    )
    other = make(api, **{**base, "minimum": 30, "maximum": 40})
    body = {"network_segment_range": {"minimum": 15}}
    r = api.put(f"{RANGES}/{other['id']}", body)
    assert error(r, 409) == "NetworkSegmentRangeOverlaps" and first["id"] in r.text
    r = api.put(f"{RANGES}/{other['id']}", {"network_segment_range": {"maximum": 29}})
    assert error(r, 400) == "NetworkTunnelRangeError"


def test_members_see_and_change_nothing(api: Caller) -> None:
    made = make(api, network_type="vxlan", minimum=10, maximum=20)
    member = api.as_member()
    assert member.get(RANGES).json()["network_segment_ranges"] == []
    assert error(member.get(f"{RANGES}/{made['id']}"), 404) == "NetworkSegmentRangeNotFound"
    r = member.post(RANGES, {"network_segment_range": {"network_type": "vxlan"}})
    assert error(r, 403) == "PolicyNotAuthorized"
    body = {"network_segment_range": {"name": "x"}}
    assert error(member.put(f"{RANGES}/{made['id']}", body), 404) == ("NetworkSegmentRangeNotFound")
    assert member.delete(f"{RANGES}/{made['id']}").status_code == 404
    assert member.put(f"{RANGES}/{made['id']}/tags/t").status_code == 404


def test_project_ranges_first_then_shared_without_other_projects_ranges(api: Caller) -> None:
    mine, theirs = api.as_member(), api.as_member()
    own = make(
        api,
        shared=False,
        project_id=mine.project_id,
        network_type="vxlan",
        minimum=1100,
        maximum=1101,
    )
    make(
        api, shared=False, project_id=theirs.project_id, network_type="vxlan", minimum=1, maximum=5
    )
    made = [mine.network() for _ in range(3)]
    assert all("provider:segmentation_id" not in n for n in made)  # the admin's to see
    vnis = [
        api.get(f"/v2.0/networks/{n['id']}").json()["network"]["provider:segmentation_id"]
        for n in made
    ]
    assert vnis == [1100, 1101, 6]  # own first, then shared past the other project's 1-5
    explicit = api.network(project_id=mine.project_id, **{"provider:network_type": "vxlan"})
    assert explicit["provider:segmentation_id"] == 7
    used = api.get(f"{RANGES}/{own['id']}").json()["network_segment_range"]["used"]
    assert used == {"1100": mine.project_id, "1101": mine.project_id}
    theirs_net = api.network(project_id=theirs.project_id)
    assert theirs_net["provider:segmentation_id"] == 1
    r = api.put(f"{RANGES}/{own['id']}", {"network_segment_range": {"minimum": 1101}})
    assert error(r, 409) == "NetworkSegmentRangeReferencedByProject"
    r = api.put(f"{RANGES}/{own['id']}", {"network_segment_range": {"maximum": 1100}})
    assert error(r, 409) == "NetworkSegmentRangeReferencedByProject"
    body = {"network_segment_range": {"minimum": 1100, "maximum": 1150}}
    assert api.put(f"{RANGES}/{own['id']}", body).status_code == 200
    assert error(api.delete(f"{RANGES}/{own['id']}"), 409) == (
        "NetworkSegmentRangeReferencedByProject"
    )


def test_vlan_tenant_networks_draw_from_vlan_ranges(api: Caller) -> None:
    member = api.as_member()
    make(
        api,
        shared=False,
        project_id=member.project_id,
        network_type="vlan",
        physical_network="physnet7",
        minimum=300,
        maximum=300,
    )
    body = {"provider:network_type": "vlan", "project_id": member.project_id}
    first = api.network(**body)
    assert (first["provider:physical_network"], first["provider:segmentation_id"]) == (
        "physnet7",
        300,
    )
    second = api.network(**body)
    assert (second["provider:physical_network"], second["provider:segmentation_id"]) == (
        "physnet1",
        100,
    )
    r = api.post("/v2.0/networks", {"network": {**body, "provider:physical_network": "physnet7"}})
    assert error(r, 409) == "NoNetworkAvailable"  # its own range is full, none shared there
