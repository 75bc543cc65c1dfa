"""``neutrino vmm`` against a live server that is both the manager (``/vmm/v1``) and, over
its own HTTP port, the provider: neutrino managing neutrino, as the issue asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from neutrino.cli.main import app
from neutrino.cli.vmm_vms import parse_subnet
from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from neutrino.vmm.routes import VmmExtension
from neutrino.vmm.usecases.container import Vmm
from tests.conftest import ADMIN_PASSWORD
from tests.live import live_server
from tests.vmm.world import TUNNEL_IPS, provider_api

runner = CliRunner()


@pytest.fixture
def server(settings: Settings, store: Store, vmm: Vmm) -> Iterator[str]:
    with live_server(settings, store, [VmmExtension(vmm, sync=False)]) as url:
        api = provider_api(url)
        for host, ip in TUNNEL_IPS.items():
            api.report_agent(host, {"tunnel_ip": ip, "tunnel_types": ["vxlan"]}, start_flag=True)
        vmm.set_host_plug(
            lambda vm, host, nic, port: api.report_port_status(
                port["id"], "ACTIVE", host.provider_host
            ),
            None,
        )
        yield url


def cli(url: str, *args: str, code: int = 0) -> str:
    env = {
        "OS_AUTH_URL": url + "/v3",
        "OS_USERNAME": "admin",
        "OS_PASSWORD": ADMIN_PASSWORD,
        "OS_PROJECT_NAME": "admin",
        "PROV_PW": ADMIN_PASSWORD,
        "BAD_PW": "wrong",
        "COLUMNS": "200",
    }
    result = runner.invoke(app, ["vmm", *args], env=env)
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def test_the_vmm_cli_end_to_end(server: str) -> None:
    u = server
    provider = ["--url", u, "--auth-url", u + "/v3", "--username", "admin"]
    assert "added" in cli(u, "provider", "add", "prov1", *provider, "--password-env", "PROV_PW")
    cli(u, "provider", "add", "bad", *provider, "--password-env", "BAD_PW")
    assert "prov1" in cli(u, "provider", "list")
    assert cli(u, "provider", "test", "prov1").startswith("ok:")
    assert "bad_credentials" in cli(u, "provider", "test", "bad", code=1)
    cli(u, "provider", "remove", "bad")
    cli(u, "dc", "add", "dc1")
    assert "dc1" in cli(u, "dc", "list")
    cli(u, "cluster", "add", "c1", "--dc", "dc1")
    for host in TUNNEL_IPS:
        cli(u, "host", "add", f"host-{host}", "--cluster", "c1", "--provider-host", host)
    assert "host-hv2" in cli(u, "host", "list")
    out = cli(
        u,
        "network",
        "create",
        "blue",
        "--provider",
        "prov1",
        "--dc",
        "dc1",
        "--subnet",
        "192.0.2.0/24,gateway=192.0.2.1,dns=192.0.2.53",
    )
    assert "created on the provider" in out and "192.0.2.0/24" in out
    provider_api(u).create_network(name="red")
    assert "red" in cli(u, "network", "import", "--provider", "prov1", "--dc", "dc1", "--list")
    assert "red" in cli(u, "network", "import", "red", "--provider", "prov1", "--dc", "dc1")
    assert "not offered by prov1 for dc1" in cli(
        u, "network", "import", "red", "--provider", "prov1", "--dc", "dc1", code=1
    )
    cli(u, "profile", "add", "open", "--network", "blue", "--no-security-groups")
    out = cli(
        u, "vm", "create", "web", "--cluster", "c1", "--nic", "eth0=open", "--nic", "eth1=red"
    )
    assert "02:6e:00:00:00:00" in out and "02:6e:00:00:00:01" in out
    out = cli(u, "vm", "start", "web")
    assert "placed on host-hv1" in out and out.count("port ACTIVE") == 2
    out = cli(u, "vm", "show", "web", "--xml")
    assert "up" in out and "<interface" in out
    assert "moving to host-hv2" in cli(u, "vm", "migrate", "web")
    out = cli(u, "nic", "add", "web", "eth2", "--profile", "blue")
    assert "eth2" in out and "port ACTIVE" in out
    cli(u, "nic", "remove", "web", "eth2")
    assert "ProviderInUse" in cli(u, "provider", "remove", "prov1", code=1)
    assert "VmIsRunning" in cli(u, "vm", "delete", "web", code=1)
    cli(u, "vm", "stop", "web")
    assert "down" in cli(u, "vm", "list")
    cli(u, "vm", "delete", "web")
    cli(u, "network", "remove", "blue", "--from-provider")
    assert "blue" not in {n["name"] for n in provider_api(u).list_networks()}
    assert "updated" in cli(
        u, "provider", "set", "prov1", "--password-env", "PROV_PW", "--sync-interval", "60"
    )
    cli(u, "provider", "remove", "prov1")
    cli(u, "dc", "remove", "dc1")
    assert "dc1" not in cli(u, "dc", "list")


def test_every_command_has_help() -> None:
    vmm = typer.main.get_command(app).commands["vmm"]  # type: ignore[attr-defined]
    groups = vmm.commands
    assert set(groups) >= {"provider", "dc", "cluster", "host", "network", "profile", "vm", "nic"}
    for group, command in groups.items():
        result = runner.invoke(app, ["vmm", group, "--help"])
        assert result.exit_code == 0 and "Commands" in result.output, group
        for name, sub in command.commands.items():
            result = runner.invoke(app, ["vmm", group, name, "--help"])
            assert result.exit_code == 0 and "Usage:" in result.output, (group, name)
            assert sub.help or sub.short_help, f"vmm {group} {name} has no help text"


def test_subnet_option_parsing() -> None:
    assert parse_subnet("2001:db8::/64,mode=slaac,dhcp=false") == {
        "cidr": "2001:db8::/64",
        "ipv6_address_mode": "slaac",
        "ipv6_ra_mode": "slaac",
        "enable_dhcp": False,
    }
    assert parse_subnet("192.0.2.0/24,dns=192.0.2.1;192.0.2.2")["dns_nameservers"] == [
        "192.0.2.1",
        "192.0.2.2",
    ]
