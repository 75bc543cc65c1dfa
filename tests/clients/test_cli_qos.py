"""``openstack network qos`` against a live neutrino, as a user types it: a policy, a
bandwidth-limit rule in each direction, the rule types the agent reports, the policy on a
port and on a network, its delete refused while in use, then everything removed."""

from __future__ import annotations

import httpx
import pytest

from neutrino.agent.qos_calc import configurations
from tests.clients.conftest import ADMIN_CLOUD, Clouds
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.clients


def register_agent(url: str) -> None:
    """An L2 agent reporting what the real agent's QoS role enforces (rules need one)."""
    auth = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "admin",
                        "domain": {"id": "default"},
                        "password": ADMIN_PASSWORD,
                    }
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }
    with httpx.Client(base_url=url, timeout=30) as http:
        token = http.post("/v3/auth/tokens", json=auth).headers["X-Subject-Token"]
        body = {
            "agent": {"host": "hv1", "agent_type": "L2 agent", "configurations": configurations()}
        }
        r = http.post("/agent/v1/agents", json=body, headers={"X-Auth-Token": token})
        assert r.status_code == 200, r.text


def test_cli_qos_policy_rules_and_port(clouds: Clouds) -> None:
    os = clouds.openstack
    register_agent(clouds.url)
    types = os(ADMIN_CLOUD, "network", "qos", "rule", "type", "list")
    # what the test agent reports: the rule types it enforces and the placement-only ones
    assert sorted(t["Type"] for t in types) == [
        "bandwidth_limit",
        "dscp_marking",
        "minimum_bandwidth",
        "minimum_packet_rate",
    ]
    detail = os(ADMIN_CLOUD, "network", "qos", "rule", "type", "show", "bandwidth_limit")
    assert detail["drivers"][0]["name"] == "neutrino-l2-agent"  # the binary that reported it
    policy = os(ADMIN_CLOUD, "network", "qos", "policy", "create", "--share", "gold")
    assert policy["shared"] is True and policy["name"] == "gold"
    for direction, kbps in (("egress", "10000"), ("ingress", "20000")):
        made = os(
            ADMIN_CLOUD,
            "network",
            "qos",
            "rule",
            "create",
            "--type",
            "bandwidth-limit",
            "--max-kbps",
            kbps,
            "--max-burst-kbits",
            "800",
            f"--{direction}",
            policy["id"],
        )
        assert made["max_kbps"] == int(kbps) and made["direction"] == direction
    rules = os(ADMIN_CLOUD, "network", "qos", "rule", "list", policy["id"])
    assert sorted(r["Max Kbps"] for r in rules) == [10000, 20000]
    listed = os(ADMIN_CLOUD, "network", "qos", "policy", "list")
    assert [p["ID"] for p in listed] == [policy["id"]]
    shown = os(ADMIN_CLOUD, "network", "qos", "policy", "show", "gold")
    assert len(shown["rules"]) == 2
    refused = clouds.run(
        ADMIN_CLOUD,
        "network",
        "qos",
        "rule",
        "create",
        "--type",
        "dscp-marking",
        "--dscp-mark",
        "16",
        policy["id"],
        check=False,
    )
    # a DSCP rule is enforced now (the agent reports it): accepted, with its mark
    assert refused.returncode == 0, refused.stderr
    assert "16" in refused.stdout
    net = os(ADMIN_CLOUD, "network", "create", "--qos-policy", "gold", "qos-net")
    assert net["qos_policy_id"] == policy["id"]
    port = os(ADMIN_CLOUD, "port", "create", "--network", net["id"], "qos-port")
    clouds.silent(ADMIN_CLOUD, "port", "set", "--qos-policy", "gold", port["id"])
    assert os(ADMIN_CLOUD, "port", "show", port["id"])["qos_policy_id"] == policy["id"]
    refused = clouds.run(ADMIN_CLOUD, "network", "qos", "policy", "delete", "gold", check=False)
    assert refused.returncode != 0
    clouds.silent(ADMIN_CLOUD, "port", "unset", "--qos-policy", port["id"])
    assert os(ADMIN_CLOUD, "port", "show", port["id"])["qos_policy_id"] is None
    clouds.silent(ADMIN_CLOUD, "port", "delete", port["id"])
    clouds.silent(ADMIN_CLOUD, "network", "delete", net["id"])
    clouds.silent(ADMIN_CLOUD, "network", "qos", "policy", "delete", "gold")
    assert os(ADMIN_CLOUD, "network", "qos", "policy", "list") == []
