"""``neutrino trace`` against a live controller: a port id with ``OS_*`` credentials, a lab
VM name resolved through a lab state file, the table, ``--json``, the exit status and errors."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from neutrino.cli.main import app
from neutrino.client import Controller, Credentials, Session
from neutrino.domain.hoststate import tap_name
from neutrino.lab.state import LabState, VmRecord
from tests.conftest import ADMIN_PASSWORD

runner = CliRunner()


def _world(url: str) -> tuple[Credentials, dict[str, Any], dict[str, Any]]:
    creds = Credentials(
        auth_url=f"{url}/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin"
    )
    with Session(creds) as session:
        api = Controller(session)
        session.request(
            "POST",
            "/agent/v1/agents",
            json={
                "agent": {
                    "host": "hv1",
                    "agent_type": "L2 agent",
                    "binary": "neutrino-agent",
                    "configurations": {"tunnel_types": ["vxlan"], "tunnel_ip": "198.51.100.1"},
                }
            },
        )
        net = api.create_network(name="cli")
        api.create_subnet(net["id"], "192.0.2.0/24")
        a = api.create_port(net["id"], name="a", **{"binding:host_id": "hv1"})
        b = api.create_port(net["id"], name="b", **{"binding:host_id": "hv1"})
    return creds, a, b


def _env(creds: Credentials) -> dict[str, str]:
    return {
        "OS_AUTH_URL": creds.auth_url,
        "OS_USERNAME": creds.username,
        "OS_PASSWORD": creds.password,
        "OS_PROJECT_NAME": creds.project_name,
        "NEUTRINO_LAB_DIR": "/nonexistent-lab",
    }


def test_trace_by_port_id_table_json_and_exit_status(live_url: str) -> None:
    creds, a, b = _world(live_url)
    b_ip = b["fixed_ips"][0]["ip_address"]
    ok = runner.invoke(app, ["trace", "--from", a["id"], "--to", b_ip], env=_env(creds))
    assert ok.exit_code == 0, ok.output
    assert "delivered" in ok.output and "ingress rules" in ok.output
    assert "conntrack" in ok.output  # the reply table
    dropped = runner.invoke(
        app,
        [
            "trace",
            "--from",
            a["id"],
            "--to",
            b_ip,
            "--proto",
            "tcp",
            "--dport",
            "22",
            "--src-ip",
            "192.0.2.250",
            "--json",
        ],
        env=_env(creds),
    )
    assert dropped.exit_code == 2, dropped.output
    body = json.loads(dropped.output)
    assert body["verdict"] == "dropped" and body["hops"][-1]["step"] == "anti-spoofing"
    bad = runner.invoke(app, ["trace", "--from", a["id"], "--to", "nowhere"], env=_env(creds))
    assert bad.exit_code == 1 and "not an IP address" in " ".join(bad.output.split())
    neither = runner.invoke(app, ["trace", "--to", b_ip], env=_env(creds))
    assert neither.exit_code == 1 and "exactly one of --from" in neither.output


def test_trace_by_lab_vm_name(live_url: str, tmp_path: Path) -> None:
    creds, a, b = _world(live_url)
    lab = LabState(
        prefix="t",
        underlay="t-underlay",
        credentials=asdict(creds),
        managed_controller=False,
        vms={
            "vm-a": VmRecord(
                name="vm-a", netns="t-vm-a", host="hv1", port_id=a["id"], mac=a["mac_address"]
            )
        },
    )
    lab.save(tmp_path)
    r = runner.invoke(
        app,
        [
            "trace",
            "--from",
            "vm-a",
            "--to",
            b["fixed_ips"][0]["ip_address"],
            "--proto",
            "udp",
            "--dport",
            "53",
            "--dir",
            str(tmp_path),
            "--json",
        ],
        env={"OS_AUTH_URL": ""},
    )
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["verdict"] == "delivered" and a["id"] in body["hops"][0]["object"]


def _play_agent(creds: Credentials, differences: list[str]) -> threading.Thread:
    """The agent of hv1, answering the next kernel check with ``differences``."""

    def run() -> None:
        with Session(creds) as session:
            api = Controller(session)
            for _ in range(20):
                ids = api.poll_checks("hv1", timeout=1.0)
                for check_id in ids:
                    api.answer_check("hv1", check_id, differences)
                if ids:
                    return

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_trace_verify_names_the_hop_and_sets_the_exit_status(live_url: str) -> None:
    creds, a, b = _world(live_url)
    b_ip = b["fixed_ips"][0]["ip_address"]
    args = ["trace", "--from", a["id"], "--to", b_ip, "--verify"]
    line = f"missing nft bridge port_in {tap_name(b['id'])} : jump in-0123456789"
    agent = _play_agent(creds, [line])
    differs = runner.invoke(app, args, env=_env(creds))
    agent.join(30)
    assert differs.exit_code == 4, differs.output
    assert "kernel differs at hop 5 (ingress rules" in differs.output, differs.output
    assert f"hv1: {line}" in differs.output
    agent = _play_agent(creds, [])
    agrees = runner.invoke(app, args, env=_env(creds))
    agent.join(30)
    assert agrees.exit_code == 0, agrees.output
    assert "kernel agrees with every hop" in agrees.output
    assert "hv1 (answered)" in agrees.output
    assert "no probe" in agrees.output and "kernel state compared only" in agrees.output
