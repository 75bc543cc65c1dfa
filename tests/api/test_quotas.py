"""Quotas: defaults, the quota API, and enforcement on create."""

from __future__ import annotations

from tests.conftest import Caller


def test_quota_api_and_enforcement(api: Caller) -> None:
    member = api.as_member()
    pid = member.project_id
    assert member.get(f"/v2.0/quotas/{pid}").json()["quota"] == {
        "network": 100,
        "subnet": 100,
        "port": 500,
        "router": 10,
        "floatingip": 50,
        "security_group": 10,
        "security_group_rule": 100,
        "rbac_policy": 10,
        "subnetpool": -1,
        "address_scope": -1,
    }
    assert member.put(f"/v2.0/quotas/{pid}", {"quota": {"network": 1}}).status_code == 403
    r = api.put(f"/v2.0/quotas/{pid}", {"quota": {"network": 2, "port": -1}})
    assert r.status_code == 200 and r.json()["quota"]["network"] == 2
    member.network()
    member.network()
    r = member.post("/v2.0/networks", {"network": {"name": "third"}})
    assert r.status_code == 409
    assert r.json()["NeutronError"]["type"] == "OverQuota"
    assert len(member.get("/v2.0/networks").json()["networks"]) == 2
    details = member.get(f"/v2.0/quotas/{pid}/details").json()["quota"]
    assert details["network"] == {"limit": 2, "used": 2, "reserved": 0}
    listed = api.get("/v2.0/quotas").json()["quotas"]
    assert [q["network"] for q in listed if q["project_id"] == pid] == [2]
    other = api.as_member()
    assert other.get(f"/v2.0/quotas/{pid}").status_code == 403
    assert api.delete(f"/v2.0/quotas/{pid}").status_code == 204
    assert member.get(f"/v2.0/quotas/{pid}").json()["quota"]["network"] == 100
    assert api.put(f"/v2.0/quotas/{pid}", {"quota": {"port": -2}}).status_code == 400
    assert api.put(f"/v2.0/quotas/{pid}", {"quota": {"bogus": 1}}).status_code == 400


def test_bulk_create_counts_against_quota(api: Caller) -> None:
    member = api.as_member()
    api.put(f"/v2.0/quotas/{member.project_id}", {"quota": {"network": 2}})
    r = member.post("/v2.0/networks", {"networks": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})
    assert r.status_code == 409
    assert member.get("/v2.0/networks").json()["networks"] == []


def test_project_ids_wider_than_a_uuid(api: Caller) -> None:
    # Found by the fuzz suite on PostgreSQL: a quota change was logged with the project id as
    # its resource id (a UUID-wide column), so an id of 37-64 characters was a 500.
    project = "p" * 64
    r = api.put(f"/v2.0/quotas/{project}", {"quota": {"port": 7}})
    assert r.status_code == 200, r.text
    assert api.get(f"/v2.0/quotas/{project}").json()["quota"]["port"] == 7
    assert api.delete(f"/v2.0/quotas/{project}").status_code == 204
    assert api.get(f"/v2.0/quotas/{project}").json()["quota"]["port"] != 7


def test_reset_of_an_id_no_project_can_have_is_a_400(api: Caller) -> None:
    r = api.delete("/v2.0/quotas/" + "x" * 300)
    assert r.status_code == 400, r.text
    assert "x" * 300 not in r.text  # the message quotes a short prefix only
