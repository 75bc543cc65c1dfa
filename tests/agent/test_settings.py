"""``AgentSettings``: the DHCP files live under the one state dir (``NEUTRINO_STATE_DIR``), and
``--local-external`` maps its physnet to the veth end the agent makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrino.agent.main import AgentSettings

ENV = {
    "OS_AUTH_URL": "http://127.0.0.1:9696/v3",
    "OS_USERNAME": "admin",
    "OS_PASSWORD": "pw",
    "OS_PROJECT_NAME": "admin",
    "NEUTRINO_AGENT_TUNNEL_IP": "127.0.0.1",
}


def test_dhcp_files_under_the_state_dir(tmp_path: Path) -> None:
    settings = AgentSettings.from_env({**ENV, "NEUTRINO_STATE_DIR": str(tmp_path)}, host="h1")
    assert settings.dhcp_dir() == tmp_path / "dhcp" / "h1"
    given = AgentSettings.from_env(ENV, host="h1", dhcp_state_dir=tmp_path / "elsewhere")
    assert given.dhcp_dir() == tmp_path / "elsewhere"


def test_local_external_maps_its_physnet() -> None:
    settings = AgentSettings.from_env(
        ENV, host="h1", local_external="public:203.0.113.1/24", interface_mappings="physnet1:eth3"
    )
    assert settings.interface_mappings == {"physnet1": "eth3", "public": "ntb-public"}
    with pytest.raises(ValueError, match="PHYSNET:IP/PREFIX"):
        AgentSettings.from_env(ENV, host="h1", local_external="public")
