"""``openstack port create --dns-name`` against a live neutrino whose ``dns_domain`` is
``example.org.``: the port's name and ``dns_assignment`` as the CLI prints them, a rename with
``port set``, and a network's ``--dns-domain``."""

from __future__ import annotations

import pytest

from tests.api.test_dns import dns_domain, settings  # noqa: F401 (fixtures: example.org.)
from tests.clients.conftest import ADMIN_CLOUD, Clouds

pytestmark = pytest.mark.clients


def test_port_dns_name_with_the_cli(clouds: Clouds) -> None:
    net = clouds.openstack(ADMIN_CLOUD, "network", "create", "--dns-domain", "net.test.", "dnsnet")
    assert net["dns_domain"] == "net.test."
    clouds.openstack(
        ADMIN_CLOUD, "subnet", "create", "--network", "dnsnet", "--subnet-range",
        "192.0.2.0/24", "dnssub",
    )  # fmt: skip
    port = clouds.openstack(
        ADMIN_CLOUD, "port", "create", "--network", "dnsnet", "--dns-name", "Web-1",
        "--dns-domain", "ports.test.", "webport",
    )  # fmt: skip
    ip = port["fixed_ips"][0]["ip_address"]
    assert port["dns_name"] == "web-1" and port["dns_domain"] == "ports.test."
    assert port["dns_assignment"] == [
        {"hostname": "web-1", "ip_address": ip, "fqdn": "web-1.example.org."}
    ]
    clouds.silent(ADMIN_CLOUD, "port", "set", "--dns-name", "web-2", "webport")
    shown = clouds.openstack(ADMIN_CLOUD, "port", "show", "webport")
    assert shown["dns_name"] == "web-2"
    assert shown["dns_assignment"][0]["fqdn"] == "web-2.example.org."
    bad = clouds.run(
        ADMIN_CLOUD, "port", "create", "--network", "dnsnet", "--dns-name", "web.other.org.",
        "badport", check=False,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "must be equal to the dns_domain option" in bad.stderr
    clouds.silent(ADMIN_CLOUD, "port", "delete", "webport")
    clouds.silent(ADMIN_CLOUD, "network", "delete", "dnsnet")
