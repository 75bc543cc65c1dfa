"""What the agent reports about VLAN, and how the controller's binding reads it: no VLAN
segment types and no trunk segmentation types, with the probe's reason, which binding turns
into the reason a VLAN port or a trunk sub-port fails to bind."""

from __future__ import annotations

from neutrino.agent.main import AgentSettings, vlan_reason
from neutrino.service import binding


def settings() -> AgentSettings:
    env = {"NEUTRINO_AGENT_TUNNEL_IP": "198.51.100.1", "NEUTRINO_AGENT_HOST": "hv1"}
    env["NEUTRINO_AGENT_INTERFACE_MAPPINGS"] = "physnet1:eth1"
    env |= {"OS_AUTH_URL": "http://127.0.0.1:1/v3", "OS_USERNAME": "a", "OS_PASSWORD": "p"}
    return AgentSettings.from_env(env)


def test_reported_configuration_refuses_vlan_with_the_reason() -> None:
    config = settings().configurations("8021q refused by the kernel")
    assert "vlan" not in config["segment_types"] and config["trunk_segmentation_types"] == []
    why = binding.refusal(config, "vlan", "physnet1")
    assert why is not None and "8021q refused by the kernel" in why
    assert binding.refusal(config, "vxlan", None) is None
    assert binding.refusal(config, "flat", "physnet1") is None
    trunk_why = binding.trunk_refusal(config)
    assert trunk_why is not None and "8021q refused" in trunk_why


def test_no_probe_without_a_real_kernel() -> None:
    assert vlan_reason(settings(), real_kernel=False).startswith("not probed")


def test_an_agent_that_reports_vlan_can_carry_sub_ports() -> None:
    config = {**settings().configurations(), "trunk_segmentation_types": ["vlan"]}
    assert binding.trunk_refusal(config) is None


def test_a_tagging_kernel_makes_the_agent_serve_vlan() -> None:
    """The probe found 8021q (no reason): VLAN is a segment type, sub-ports are carried, and
    calc's config wires VLANs; the controller binds both."""
    config = settings().configurations("")
    assert "vlan" in config["segment_types"] and config["trunk_segmentation_types"] == ["vlan"]
    assert "vlan_unavailable" not in config
    assert binding.refusal(config, "vlan", "physnet1") is None
    assert binding.refusal(config, "vlan", "physnet9") is not None  # no mapping for it
    assert binding.trunk_refusal(config) is None
    assert settings().agent_config(vlan=True).vlan and not settings().agent_config().vlan
