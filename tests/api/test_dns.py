"""DNS integration (``dns-integration``, ``dns-domain-ports``): ports' ``dns_name``,
``dns_domain`` and ``dns_assignment``, networks' ``dns_domain``, floating IPs' DNS keys, with
Neutron's validation and its rule that names are in use only under a non-default domain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from neutrino.common.settings import Settings
from tests.conftest import ADMIN_PASSWORD, Caller


@pytest.fixture
def dns_domain() -> str:
    return "Example.org"  # normalized to "example.org." (lower case, a trailing dot)


@pytest.fixture
def settings(tmp_path: Path, db_url: str, dns_domain: str) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        db=db_url,
        listen="127.0.0.1:9696",
        token_key="test-key",
        admin_password=ADMIN_PASSWORD,
        dns_domain=dns_domain,
    )


def _net(caller: Caller, **attrs: Any) -> dict[str, Any]:
    net = caller.network(**attrs)
    caller.subnet(net["id"], "192.0.2.0/24")
    return net


def _error(r: Any, status: int = 400) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return r.json()["NeutronError"]  # type: ignore[no-any-return]


def test_extensions_are_advertised(api: Caller) -> None:
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {"dns-integration", "dns-domain-ports"} <= aliases


def test_port_name_assignment_and_update(api: Caller) -> None:
    member = api.as_member()
    net = _net(member)
    port = member.port(net["id"], dns_name="VM-1", dns_domain="Test.ORG.")
    [ip] = [f["ip_address"] for f in port["fixed_ips"]]
    assert port["dns_name"] == "vm-1" and port["dns_domain"] == "test.org."
    assert port["dns_assignment"] == [
        {"hostname": "vm-1", "ip_address": ip, "fqdn": "vm-1.example.org."}
    ]
    shown = member.get(f"/v2.0/ports/{port['id']}").json()["port"]
    listed = member.get(f"/v2.0/ports?id={port['id']}").json()["ports"]
    assert shown["dns_assignment"] == listed[0]["dns_assignment"] == port["dns_assignment"]

    r = member.put(f"/v2.0/ports/{port['id']}", {"port": {"dns_name": "vm-2.example.org."}})
    assert r.status_code == 200, r.text
    updated = r.json()["port"]
    assert updated["revision_number"] > port["revision_number"]
    assert updated["dns_assignment"][0]["hostname"] == "vm-2.example.org."
    assert updated["dns_assignment"][0]["fqdn"] == "vm-2.example.org."
    assert updated["dns_domain"] == "test.org."  # not given: kept
    listed = member.get(f"/v2.0/ports?id={port['id']}").json()["ports"]
    assert listed[0]["dns_assignment"] == updated["dns_assignment"]  # an FQDN, listed too

    cleared = member.put(f"/v2.0/ports/{port['id']}", {"port": {"dns_name": ""}}).json()["port"]
    assert cleared["revision_number"] > updated["revision_number"]
    host = "host-" + ip.replace(".", "-")
    assert cleared["dns_assignment"] == [
        {"hostname": host, "ip_address": ip, "fqdn": f"{host}.example.org."}
    ]
    listed = member.get(f"/v2.0/ports?id={port['id']}").json()["ports"]
    assert listed[0]["dns_assignment"] == cleared["dns_assignment"]  # the list cache follows


def test_port_without_name_or_address(api: Caller) -> None:
    net = api.network()  # no subnet: no address, no assignment
    port = api.port(net["id"])
    assert port["dns_name"] == "" and port["dns_domain"] == ""
    assert port["dns_assignment"] == []


def test_ipv6_names_and_multiple_addresses(api: Caller) -> None:
    net = _net(api)
    api.subnet(net["id"], "2001:db8:5::/64")
    port = api.port(
        net["id"], fixed_ips=[{"ip_address": "192.0.2.50"}, {"ip_address": "2001:db8:5::50"}]
    )
    hosts = {a["ip_address"]: (a["hostname"], a["fqdn"]) for a in port["dns_assignment"]}
    assert hosts == {
        "192.0.2.50": ("host-192-0-2-50", "host-192-0-2-50.example.org."),
        "2001:db8:5::50": ("host-2001-db8-5--50", "host-2001-db8-5--50.example.org."),
    }


@pytest.mark.parametrize("dns_domain", ["openstacklocal"])
def test_default_domain_drops_port_names_as_neutron(api: Caller) -> None:
    """Under the default domain Neutron accepts (and checks) a port's name and domain, then
    keeps neither: every port is ``host-<address>.openstacklocal.``."""
    net = _net(api, dns_domain="net.example.")
    assert net["dns_domain"] == "net.example."  # a network's domain is kept whatever the setting
    port = api.port(net["id"], dns_name="vm1", dns_domain="test.org.")
    ip = port["fixed_ips"][0]["ip_address"]
    host = "host-" + ip.replace(".", "-")
    assert port["dns_name"] == "" and port["dns_domain"] == ""
    assert port["dns_assignment"] == [
        {"hostname": host, "ip_address": ip, "fqdn": f"{host}.openstacklocal."}
    ]
    r = api.put(f"/v2.0/ports/{port['id']}", {"port": {"dns_name": "vm2"}})
    assert r.status_code == 200 and r.json()["port"]["dns_name"] == ""
    assert r.json()["port"]["revision_number"] == port["revision_number"]  # nothing changed
    # still checked: a bad name is a 400 under any domain
    _error(api.post("/v2.0/ports", {"port": {"network_id": net["id"], "dns_name": "-x"}}))


def test_network_dns_domain(api: Caller) -> None:
    net = api.network(dns_domain="test.org.")
    assert net["dns_domain"] == "test.org."
    r = api.put(f"/v2.0/networks/{net['id']}", {"network": {"dns_domain": "d.org."}})
    assert r.status_code == 200, r.text
    assert r.json()["network"]["dns_domain"] == "d.org."
    assert r.json()["network"]["revision_number"] > net["revision_number"]
    assert api.get(f"/v2.0/networks?id={net['id']}").json()["networks"][0]["dns_domain"] == "d.org."
    assert api.network()["dns_domain"] == ""
    err = _error(api.put(f"/v2.0/networks/{net['id']}", {"network": {"dns_domain": "no-dot"}}))
    assert err["message"] == "Invalid input for dns_domain. Reason: 'no-dot' is not a FQDN."


def test_floating_ip_dns_keys_are_checked_and_not_kept(api: Caller) -> None:
    """Neutron keeps a floating IP's DNS name only for an external DNS service: without one
    it checks them on create, shows "" and refuses them on update."""
    ext = api.network(**{"router:external": True})
    api.subnet(ext["id"], "203.0.113.0/24")
    fip = api.create(
        "floatingips",
        "floatingip",
        floating_network_id=ext["id"],
        dns_name="www",
        dns_domain="example.org.",
    )
    assert fip["dns_name"] == "" and fip["dns_domain"] == ""
    shown = api.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
    assert shown["dns_name"] == "" and shown["dns_domain"] == ""
    err = _error(api.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"dns_name": "x"}}))
    assert err["message"] == "Cannot update read-only attribute dns_name"
    bad = {"floating_network_id": ext["id"], "dns_name": "www.example.org."}
    err = _error(api.post("/v2.0/floatingips", {"floatingip": bad}))
    assert "is a FQDN. It should be a relative domain name" in err["message"]


# What Neutron's validators refuse, and the reason they give (``domain.dns``).
BAD_NAMES = [
    ("a..b", "Encountered an empty component"),
    ("-ab", "must not start or end with a hyphen"),
    ("ab-", "must not start or end with a hyphen"),
    ("a_b", "must be 1-63 characters long"),
    ("x" * 64, "must be 1-63 characters long"),
    ("vm.123", "TLD '123' must not be all numeric"),
    ("é", "must be 1-63 characters long"),
    ("a\u0000b", None),  # a NUL: refused by the JSON guard first
    ("a" * 300, "exceeds the 255 character FQDN limit"),
    ("vm.other.org.", "Its higher level labels must be equal to the dns_domain option"),
    ("example.org.", "must also include one or more valid DNS labels"),
    (("a" * 63 + ".") * 3 + "a" * 60, "The dns_name passed is a PQDN and its size is"),
]


@pytest.mark.parametrize(("value", "reason"), BAD_NAMES)
def test_bad_port_names_are_400(api: Caller, value: str, reason: str | None) -> None:
    net = api.network()
    err = _error(api.post("/v2.0/ports", {"port": {"network_id": net["id"], "dns_name": value}}))
    if reason is not None:
        assert err["message"].startswith("Invalid input for dns_name. Reason: ")
        assert reason in err["message"]
    assert len(err["message"]) <= 1024
    assert api.get(f"/v2.0/ports?network_id={net['id']}").json()["ports"] == []  # nothing half-made


@pytest.mark.parametrize("value", [None, 5, True, [], {}, ["vm"]])
def test_non_strings_are_400(api: Caller, value: Any) -> None:
    net = api.network()
    for key, path, body in (
        ("dns_name", "/v2.0/ports", {"network_id": net["id"]}),
        ("dns_domain", "/v2.0/ports", {"network_id": net["id"]}),
        ("dns_domain", "/v2.0/networks", {}),
    ):
        resource = path.split("/")[-1][:-1]
        err = _error(api.post(path, {resource: {**body, key: value}}))
        assert err["type"] == "InvalidInput"
        assert "must be string type" in err["message"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("org", "is not a FQDN"),
        ("a..org.", "Encountered an empty component"),
        ("x.123.", "must not be all numeric"),
        ("a" * 60 + "." + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + "..", "empty component"),
        (("a" * 63 + ".") * 4, "Adding a sub-domain will cause it to exceed"),
    ],
)
def test_bad_domains_are_400(api: Caller, value: str, reason: str) -> None:
    net = api.network()
    for path, body in (
        ("/v2.0/networks", {"network": {"dns_domain": value}}),
        ("/v2.0/ports", {"port": {"network_id": net["id"], "dns_domain": value}}),
    ):
        err = _error(api.post(path, body))
        assert reason in err["message"], err["message"]


def test_keywords_are_labels(api: Caller) -> None:
    """Neutron's label rule admits the ``<project_id>``-style keywords (for an external DNS
    service's domains); neutrino stores them as given."""
    assert api.network(dns_domain="<project_id>.example.")["dns_domain"] == "<project_id>.example."


def test_other_projects_do_not_see_names(api: Caller) -> None:
    """A port's names are part of the port: another project's member sees neither."""
    owner, other = api.as_member(), api.as_member()
    net = _net(owner)
    port = owner.port(net["id"], dns_name="secret-vm")
    assert other.get(f"/v2.0/ports/{port['id']}").status_code == 404
    assert other.get("/v2.0/ports").json()["ports"] == []
    r = other.put(f"/v2.0/ports/{port['id']}", {"port": {"dns_name": "stolen"}})
    assert r.status_code == 404
    assert owner.get(f"/v2.0/ports/{port['id']}").json()["port"]["dns_name"] == "secret-vm"
