"""Network segments on SQLite and PostgreSQL: the admin's ``/v2.0/segments`` (create, show,
list, update, delete), a network's first segment written with it, multi-provider networks,
subnets on segments (``segment_id`` and Neutron's rules), and the errors."""

from __future__ import annotations

from typing import Any

from tests.conftest import Caller

SEGMENTS = "/v2.0/segments"


def segment(caller: Caller, status: int = 201, **attrs: Any) -> Any:
    r = caller.post(SEGMENTS, {"segment": attrs})
    assert r.status_code == status, r.text
    return r.json()["segment"] if status == 201 else r.json()["NeutronError"]


def test_a_network_has_its_segment(api: Caller) -> None:
    net = api.network()
    listed = api.get(SEGMENTS, params={"network_id": net["id"]}).json()["segments"]
    assert len(listed) == 1
    seg = listed[0]
    assert seg["network_type"] == net["provider:network_type"]
    assert seg["segmentation_id"] == net["provider:segmentation_id"]
    assert seg["physical_network"] is None and seg["name"] is None
    assert {"created_at", "updated_at", "revision_number", "description"} <= seg.keys()
    assert api.get(f"{SEGMENTS}/{seg['id']}").json()["segment"] == seg
    assert api.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    assert api.get(f"{SEGMENTS}/{seg['id']}").json()["NeutronError"]["type"] == "SegmentNotFound"


def test_create_update_delete_and_multi_provider_view(api: Caller) -> None:
    net = api.network()
    first = net["provider:segmentation_id"]
    made = segment(api, network_id=net["id"], network_type="vxlan", name="second")
    assert made["network_type"] == "vxlan" and made["segmentation_id"] != first
    shown = api.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert "provider:network_type" not in shown
    assert [s["provider:segmentation_id"] for s in shown["segments"]] == [
        first,
        made["segmentation_id"],
    ]
    r = api.put(f"{SEGMENTS}/{made['id']}", {"segment": {"name": "n", "description": "d"}})
    assert r.status_code == 200 and r.json()["segment"]["description"] == "d"
    r = api.put(f"{SEGMENTS}/{made['id']}", {"segment": {"segmentation_id": 9}})
    assert r.status_code == 400
    taken = segment(api, 409, network_id=net["id"], network_type="vxlan", segmentation_id=first)
    assert taken["type"] == "TunnelIdInUse"
    assert (
        segment(api, 404, network_id="00000000-0000-4000-8000-000000000000", network_type="vxlan")[
            "type"
        ]
        == "NetworkNotFound"
    )
    assert segment(api, 400, network_id=net["id"], network_type="gre")["type"] == "InvalidInput"
    assert segment(api, 400, network_id=net["id"])["type"] == "HTTPBadRequest"
    assert api.delete(f"{SEGMENTS}/{made['id']}").status_code == 204
    shown = api.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert "segments" not in shown and shown["provider:segmentation_id"] == first


def test_members_see_no_segments(api: Caller) -> None:
    net = api.network()
    seg = api.get(SEGMENTS).json()["segments"][0]
    member = api.as_member()
    assert member.get(SEGMENTS).json()["segments"] == []
    assert member.get(f"{SEGMENTS}/{seg['id']}").status_code == 404
    assert segment(member, 403, network_id=net["id"], network_type="vxlan")["type"] == (
        "PolicyNotAuthorized"
    )
    assert member.delete(f"{SEGMENTS}/{seg['id']}").status_code == 404


def test_subnets_on_segments(api: Caller) -> None:
    net = api.network()
    seg = api.get(SEGMENTS, params={"network_id": net["id"]}).json()["segments"][0]
    on_seg = api.subnet(net["id"], "192.0.2.0/26", segment_id=seg["id"])
    assert on_seg["segment_id"] == seg["id"]
    r = api.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "cidr": "192.0.2.64/26", "ip_version": 4}},
    )
    assert r.json()["NeutronError"]["type"] == "SubnetsNotAllAssociatedWithSegments"
    other = api.network()
    r = api.post(
        "/v2.0/subnets",
        {
            "subnet": {
                "network_id": other["id"],
                "cidr": "198.51.100.0/24",
                "ip_version": 4,
                "segment_id": seg["id"],
            }
        },
    )
    assert r.status_code == 400 and r.json()["NeutronError"]["type"] == "NetworkIdsDontMatch"
    r = api.delete(f"{SEGMENTS}/{seg['id']}")
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "SegmentInUse"
    # writable: a subnet without a segment may get its network's one (single segment)
    plain = api.subnet(other["id"], "198.51.100.0/24")
    assert plain["segment_id"] is None
    other_seg = api.get(SEGMENTS, params={"network_id": other["id"]}).json()["segments"][0]
    r = api.put(f"/v2.0/subnets/{plain['id']}", {"subnet": {"segment_id": other_seg["id"]}})
    assert r.status_code == 200 and r.json()["subnet"]["segment_id"] == other_seg["id"]
    extra = segment(api, network_id=other["id"], network_type="vxlan")
    r = api.put(f"/v2.0/subnets/{plain['id']}", {"subnet": {"segment_id": extra["id"]}})
    assert r.json()["NeutronError"]["type"] == "SubnetSegmentAssociationChangeNotAllowed"


def test_multi_provider_create(api: Caller) -> None:
    body = {"network": {"segments": [{"provider:network_type": "vxlan"}] * 2}}
    r = api.post("/v2.0/networks", body)
    assert r.status_code == 201, r.text
    segs = r.json()["network"]["segments"]
    assert (
        len(segs) == 2
        and segs[0]["provider:segmentation_id"] != segs[1]["provider:segmentation_id"]
    )
    listed = api.get(SEGMENTS, params={"network_id": r.json()["network"]["id"]}).json()["segments"]
    assert len(listed) == 2
    both = {"network": {"segments": [], "provider:network_type": "vxlan"}}
    assert api.post("/v2.0/networks", both).status_code == 400
    bad = {"network": {"segments": [{"provider:network_type": "vxlan", "x": 1}]}}
    assert api.post("/v2.0/networks", bad).status_code == 400
    member = api.as_member()
    assert member.post("/v2.0/networks", body).status_code == 403
