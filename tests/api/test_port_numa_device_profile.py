"""Port attributes kept for Nova on SQLite and PostgreSQL: ``numa_affinity_policy``
(``port-numa-affinity-policy`` and its ``-socket`` addition: one of Neutron's policies or
null, writable) and ``device_profile`` (``port-device-profile``: a string or null, set at
create only), in every view of a port."""

from __future__ import annotations

import pytest

from tests.api.test_agent_api import register
from tests.conftest import Caller

PORTS = "/v2.0/ports"


def test_numa_policy_set_changed_and_cleared(api: Caller) -> None:
    member = api.as_member()
    net = member.network()
    port = member.port(net["id"], numa_affinity_policy="socket", device_profile="gpu-x")
    assert port["numa_affinity_policy"] == "socket" and port["device_profile"] == "gpu-x"
    plain = member.port(net["id"])
    assert plain["numa_affinity_policy"] is None and plain["device_profile"] is None
    url = f"{PORTS}/{port['id']}"
    for policy in ("required", "preferred", "legacy", None):
        r = member.put(url, {"port": {"numa_affinity_policy": policy}})
        assert r.status_code == 200, r.text
        assert r.json()["port"]["numa_affinity_policy"] == policy
        assert r.json()["port"]["revision_number"] > port["revision_number"]
        assert member.get(url).json()["port"]["numa_affinity_policy"] == policy
    member.put(url, {"port": {"numa_affinity_policy": "preferred"}})
    for caller in (member, api):  # the list renderers (Python, and SQLite's JSON) agree
        listed = {p["id"]: p for p in caller.get(PORTS).json()["ports"]}
        assert listed[port["id"]]["numa_affinity_policy"] == "preferred"
        assert listed[port["id"]]["device_profile"] == "gpu-x"
        assert listed[plain["id"]]["device_profile"] is None
    r = member.get(f"{PORTS}?fields=numa_affinity_policy&fields=id")
    assert {p["id"]: p["numa_affinity_policy"] for p in r.json()["ports"]} == {
        port["id"]: "preferred",
        plain["id"]: None,
    }


@pytest.mark.parametrize("bad", ["isolate", "", "SOCKET", 1, ["required"]])
def test_numa_policy_outside_neutrons_list_is_400(api: Caller, bad: object) -> None:
    net = api.network()
    r = api.post(PORTS, {"port": {"network_id": net["id"], "numa_affinity_policy": bad}})
    assert r.status_code == 400, r.text
    assert "numa_affinity_policy" in r.json()["NeutronError"]["message"]


def test_device_profile_is_create_only_and_validated(api: Caller) -> None:
    net = api.network()
    port = api.port(net["id"], device_profile="fpga")
    r = api.put(f"{PORTS}/{port['id']}", {"port": {"device_profile": "other"}})
    assert r.status_code == 400, r.text
    assert api.get(f"{PORTS}/{port['id']}").json()["port"]["device_profile"] == "fpga"
    for bad in ("x" * 256, 7):
        r = api.post(PORTS, {"port": {"network_id": net["id"], "device_profile": bad}})
        assert r.status_code == 400, r.text


def test_numa_policy_of_a_bound_port_is_409(api: Caller) -> None:
    register(api, "hv-numa")
    net = api.network()
    port = api.port(net["id"], **{"binding:host_id": "hv-numa"})
    assert port["binding:vif_type"] not in ("unbound", "binding_failed")
    url = f"{PORTS}/{port['id']}"
    r = api.put(url, {"port": {"numa_affinity_policy": "required"}})
    assert r.status_code == 409, r.text
    err = r.json()["NeutronError"]
    assert err["type"] == "PortBoundNUMAAffinityPolicy"
    assert err["message"] == (
        f"Unable to complete operation on port {port['id']}, port is already bound to host "
        "hv-numa, numa_affinity_policy value given required."
    )
    # unbound in the same request does not help (the binding before the update counts)
    body = {"numa_affinity_policy": "required", "binding:host_id": ""}
    assert api.put(url, {"port": body}).status_code == 409
    r = api.put(url, {"port": {"binding:host_id": ""}})
    assert r.status_code == 200, r.text
    r = api.put(url, {"port": {"numa_affinity_policy": "required"}})
    assert r.status_code == 200 and r.json()["port"]["numa_affinity_policy"] == "required"
