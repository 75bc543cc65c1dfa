"""A trace's ``verify`` across two ``neutrino serve`` processes on one database (SQLite, and
PostgreSQL when configured): the trace reaches process A, the host's agent long-polls process
B, and the check filed by A must reach B's long-poll and B's answer come back to A
(``service/kernel_checks.py`` keeps them in the database, not in a process's memory)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
from bench.served import admin_token, launch

from neutrino.domain.hoststate import tap_name

PASSWORD = "two-processes-secret"


def _call(client: httpx.Client, method: str, path: str, body: Any = None) -> Any:
    r = client.request(method, path, json=body)
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def test_verify_asked_of_one_process_is_answered_through_another(
    tmp_path: Path, db_url: str
) -> None:
    common = ["--state-dir", str(tmp_path / "state"), "--db", db_url]
    env = {"NEUTRINO_ADMIN_PASSWORD": PASSWORD}
    first = launch(tmp_path / "a.log", settings=env, args=common).wait_ready()
    servers = [first]
    try:
        servers.append(launch(tmp_path / "b.log", settings=env, args=common).wait_ready())
        a_url, b_url = first.url, servers[1].url
        token = admin_token(a_url, PASSWORD)
        headers = {"X-Auth-Token": token}
        with (
            httpx.Client(base_url=a_url, headers=headers, timeout=30) as a,
            httpx.Client(base_url=b_url, headers=headers, timeout=30) as b,
        ):
            agent = {
                "host": "hvx",
                "agent_type": "L2 agent",
                "binary": "neutrino-agent",
                "configurations": {"tunnel_types": ["vxlan"], "tunnel_ip": "198.51.100.7"},
            }
            _call(b, "POST", "/agent/v1/agents", {"agent": agent})
            net = _call(a, "POST", "/v2.0/networks", {"network": {"name": "n"}})["network"]
            _call(
                a,
                "POST",
                "/v2.0/subnets",
                {"subnet": {"network_id": net["id"], "cidr": "192.0.2.0/24", "ip_version": 4}},
            )
            ports = [
                _call(
                    a,
                    "POST",
                    "/v2.0/ports",
                    {"port": {"network_id": net["id"], "binding:host_id": "hvx"}},
                )["port"]
                for _ in range(2)
            ]
            src, dst = ports
            ip, mac = src["fixed_ips"][0]["ip_address"], src["mac_address"]
            lost = f"missing nft bridge p_ip4 {tap_name(src['id'])} . {mac} . {ip}"
            seen: dict[str, float] = {}

            def agent_on_b() -> None:  # the agent's checker, long-polling process B
                started = time.monotonic()
                r = b.get("/agent/v1/hosts/hvx/checks", params={"timeout": 20})
                checks = r.json()["checks"]
                seen["waited"] = time.monotonic() - started
                for check in checks:
                    answer = {"check": {"differences": [lost]}}
                    _call(b, "POST", f"/agent/v1/hosts/hvx/checks/{check['id']}", answer)

            poller = threading.Thread(target=agent_on_b)
            poller.start()
            time.sleep(0.5)  # B's long-poll is waiting before A files the check
            body = {
                "trace": {
                    "source": {"port_id": src["id"]},
                    "destination": dst["fixed_ips"][0]["ip_address"],
                    "verify": True,
                }
            }
            asked = time.monotonic()
            verify = _call(a, "POST", "/neutrino/v1/trace", body)["trace"]["verify"]
            round_trip = time.monotonic() - asked
            poller.join(timeout=30)
            assert verify["hosts"] == {"hvx": "answered"}, verify
            assert verify["verdict"] == "differs" and verify["step"] == "anti-spoofing", verify
            assert verify["detail"] == [f"hvx: {lost}"]
            assert seen["waited"] < 15  # woken by A's filing, not by its 20 s timeout
            assert round_trip < 10  # answered, not timed out (the trace waits 10 s at most)
            print(f"verify across processes: {round_trip * 1000:.0f} ms")
    finally:
        for server in servers:
            server.stop()
