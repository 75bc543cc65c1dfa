"""Small aliases Neutron advertises, each pinned to what makes it true here:
``port-mac-address-regenerate`` (a ``null`` MAC on update draws a new one), ``aap-reject-multicast``
(no multicast address, prefix or MAC in allowed address pairs), ``agent_sort_key`` (agents sort
by any of their keys), ``port-security-groups-filtering`` (ports filtered by group) and
``quota-check-limit``/``quota-check-limit-default`` (usage checked before a lower limit, the
``check_limit`` flag accepted)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_agent_api import register
from tests.conftest import Caller


def _aliases(api: Caller) -> set[str]:
    return {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}


def test_aliases_are_advertised(api: Caller) -> None:
    assert {
        "port-mac-address-regenerate",
        "aap-reject-multicast",
        "agent_sort_key",
        "port-security-groups-filtering",
        "quota-check-limit",
        "quota-check-limit-default",
    } <= _aliases(api)


def test_null_mac_regenerates_an_unbound_ports_mac(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    port = api.port(net["id"], mac_address=None)  # on create: one is drawn, as without it
    assert port["mac_address"].startswith("fa:16:3e:")
    r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"mac_address": None}})
    assert r.status_code == 200, r.text
    new = r.json()["port"]
    assert new["mac_address"] != port["mac_address"] and new["mac_address"].startswith("fa:16:3e:")
    assert new["revision_number"] == port["revision_number"] + 1
    register(api, "hv1")
    bound = api.port(net["id"], **{"binding:host_id": "hv1"})
    r = api.put(f"/v2.0/ports/{bound['id']}", {"port": {"mac_address": None}})
    assert r.status_code == 409 and r.json()["NeutronError"]["type"] == "PortBound"
    shown = api.get(f"/v2.0/ports/{bound['id']}").json()["port"]
    assert shown["mac_address"] == bound["mac_address"]


@pytest.mark.parametrize(
    ("pair", "why"),
    [
        ({"ip_address": "224.0.0.5"}, "IP 224.0.0.5 is a multicast address"),
        ({"ip_address": "ff02::1"}, "IP ff02::1 is a multicast address"),
        ({"ip_address": "230.0.0.0/8"}, "overlaps with multicast range 224.0.0.0/4"),
        ({"ip_address": "192.0.0.0/2"}, "overlaps with multicast range 224.0.0.0/4"),
        ({"ip_address": "::/0"}, "overlaps with multicast range ff00::/8"),
        (
            {"ip_address": "192.0.2.9", "mac_address": "01:00:5e:00:00:05"},
            "'01:00:5e:00:00:05' is not a valid MAC address",  # no multicast MAC anywhere
        ),
    ],
)
def test_multicast_address_pairs_are_refused(api: Caller, pair: dict[str, Any], why: str) -> None:
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    port = api.port(net["id"])
    r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"allowed_address_pairs": [pair]}})
    assert r.status_code == 400, r.text
    assert why in r.json()["NeutronError"]["message"]
    body = {"port": {"network_id": net["id"], "allowed_address_pairs": [pair]}}
    assert api.post("/v2.0/ports", body).status_code == 400
    assert len(api.get(f"/v2.0/ports?network_id={net['id']}").json()["ports"]) == 1


def test_unicast_pairs_and_the_ipv4_default_route_are_fine(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    pairs = [
        {"ip_address": "0.0.0.0/0"},
        {"ip_address": "192.0.2.0/24", "mac_address": "fa:16:3e:00:00:09"},
        {"ip_address": "2001:db8::/64"},
    ]
    port = api.port(net["id"], allowed_address_pairs=pairs)
    assert [p["ip_address"] for p in port["allowed_address_pairs"]] == [
        "0.0.0.0/0",
        "192.0.2.0/24",
        "2001:db8::/64",
    ]


def test_agents_sort_by_any_key(api: Caller) -> None:
    for host in ("b", "c", "a"):
        register(api, host)
    r = api.get("/v2.0/agents?sort_key=host&sort_dir=desc")
    assert r.status_code == 200, r.text
    assert [a["host"] for a in r.json()["agents"]] == ["c", "b", "a"]
    r = api.get("/v2.0/agents?sort_key=nonsense")
    assert r.status_code == 400, r.text


def test_ports_filter_on_security_groups(api: Caller) -> None:
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/24")
    group = api.create("security-groups", "security_group", name="web")
    inside = api.port(net["id"], security_groups=[group["id"]])
    api.port(net["id"])  # the default group only
    r = api.get(f"/v2.0/ports?security_groups={group['id']}")
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["ports"]] == [inside["id"]]


def test_quota_check_limit_is_accepted_and_usage_checked(api: Caller) -> None:
    project = api.network()["project_id"]
    for check in (True, False):
        body = {"quota": {"network": 0, "check_limit": check}}
        r = api.put(f"/v2.0/quotas/{project}", body)
        assert r.status_code == 400, r.text
        assert "must be greater than or equal to already used 1" in r.text
    r = api.put(f"/v2.0/quotas/{project}", {"quota": {"network": 5, "check_limit": True}})
    assert r.status_code == 200 and r.json()["quota"]["network"] == 5
