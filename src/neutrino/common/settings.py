"""Settings: defaults < config file (TOML, ``NEUTRINO_CONFIG``) < environment (``NEUTRINO_*``).

Nothing here touches a database or the network; the app factory and the CLI read a ``Settings``
and pass it down.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/neutrino")
    return Path.home() / ".local" / "state" / "neutrino"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEUTRINO_", extra="ignore")

    state_dir: Path = Field(default_factory=default_state_dir)
    db: str = ""  # empty: sqlite:///<state_dir>/neutrino.db
    listen: str = "127.0.0.1:9696"
    public_url: str = ""  # empty: http://<listen>; what the catalog advertises
    region: str = "RegionOne"

    # Identity
    token_key: str = ""  # empty: read or create <state_dir>/token.key
    token_ttl_seconds: int = 4 * 3600
    admin_password: str = ""
    external_keystone_url: str = ""  # validate tokens against another Keystone instead

    # Networking
    base_mac: str = "fa:16:3e:00:00:00"
    underlay_mtu: int = 1500
    tenant_network_type: str = "vxlan"
    vxlan_vni_ranges: str = "1:65535"
    vlan_ranges: str = "physnet1:100:200"  # physnet:min:max[,physnet:min:max]
    flat_networks: str = "public,physnet1"  # comma separated physnets, "*" for any
    ipam_window: int = 16
    agent_sweep_interval: float = 15.0  # s between liveness sweeps (dead agents); 0 = off
    dhcp_agents_per_network: int = 1  # DHCP agents (hosts) serving each DHCP-enabled network
    l3_ha: bool = False  # routers created without ``ha`` are HA (docs/l3-ha.md)
    max_l3_agents_per_router: int = 3  # L3 agents hosting each HA router (at least 2)
    # ports' DNS names (dns-integration): unset or the default, every port is host-<address>
    dns_domain: str = "openstacklocal."

    # Manager side (neutrino.vmm, /vmm/v1)
    vmm_device_owner: str = "compute:neutrino"  # device_owner of the ports of its vNICs
    vmm_port_wait_timeout: float = 30.0  # s a VM start waits for its ports to be ACTIVE
    # who plugs a started VM's vNICs: empty, the hypervisor (its libvirt or hook); "lab:DIR",
    # the namespace lab in DIR (``neutrino lab up`` sets it for the controller it starts)
    vmm_host_plug: str = ""

    # Request and connection limits, per server process (docs/architecture.md says why each)
    max_body_bytes: int = 1024 * 1024  # larger request bodies are refused (413)
    max_connections: int = 8192  # open client connections; past it the oldest idle closes
    header_timeout: float = 10.0  # s for a new connection to send complete request headers
    keepalive_timeout: float = 5.0  # s an idle keep-alive connection is kept open
    max_long_polls: int = 6144  # concurrent agent watches and port-event waits (more: 503)

    # Quotas (-1 = unlimited)
    quota_network: int = 100
    quota_subnet: int = 100
    quota_port: int = 500
    quota_router: int = 10
    quota_floatingip: int = 50
    quota_security_group: int = 10
    quota_security_group_rule: int = 100
    quota_rbac_policy: int = 10
    quota_subnetpool: int = -1  # Neutron registers both with its quota_default, -1
    quota_address_scope: int = -1

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("NEUTRINO_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        return self.db or f"sqlite:///{self.state_dir / 'neutrino.db'}"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host, _, port = self.listen.rpartition(":")
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    def signing_key(self) -> bytes:
        """The token signing key: shared by every replica that must accept the same tokens."""
        if self.token_key:
            return self.token_key.encode()
        path = self.state_dir / "token.key"
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()
