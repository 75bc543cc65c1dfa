"""What a lab runs and in what state (``Lab.status``, the CLI's ``lab status``): the
supervisor, the controller (reachable or not), each host's agent process and the agent types
alive for it in the controller, each VM with its address and its port's status."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from neutrino.client import ClientError
from neutrino.lab import netns
from neutrino.lab.state import read_json
from neutrino.lab.teardown import process_of

if TYPE_CHECKING:
    from neutrino.lab.runtime import Lab


@dataclass(frozen=True)
class StatusRow:
    kind: str
    name: str
    namespace: str
    detail: str
    state: str


def rows(lab: Lab) -> list[StatusRow]:
    state = lab.state()
    present = netns.list_namespaces()
    children = read_json(lab.dir / "children.json") or {}
    sup = lab.supervisor_pid()
    out = [
        StatusRow(
            "supervisor",
            "supervisor",
            "-",
            f"pid {sup or '-'}",
            "running" if sup else "stopped",
        )
    ]
    agents: dict[tuple[str, str], bool] = {}
    ports: dict[str, str] = {}
    try:
        with lab.controller() as api:
            for a in api.session.request("GET", "/v2.0/agents")["agents"]:
                agents[(a["host"], a["agent_type"])] = bool(a.get("alive"))
            for vm in state.vms.values():
                with contextlib.suppress(ClientError):
                    ports[vm.name] = api.get_port(vm.port_id)["status"]
        reachable = "reachable"
    except ClientError as exc:
        reachable = f"unreachable ({exc})"
    ctl = children.get("controller", {})
    out.append(
        StatusRow(
            "controller",
            "managed" if state.managed_controller else "external",
            "-",
            state.creds.auth_url + (f" pid {ctl.get('pid')}" if ctl else ""),
            reachable,
        )
    )
    for host in state.hosts:
        child = children.get(f"agent-{host.name}", {})
        alive = process_of(child.get("pid"), "neutrino")
        types = [t for t in ("L2 agent", "DHCP agent", "L3 agent") if agents.get((host.name, t))]
        detail = (
            f"{host.ip} pid {alive or '-'} restarts {max(0, child.get('restarts', 0))}"
            f" {'+'.join(types) or 'no agent alive'}"
        )
        ok = host.netns in present and alive is not None and bool(types)
        out.append(StatusRow("host", host.name, host.netns, detail, "up" if ok else "degraded"))
    for vm in state.vms.values():
        address = _vm_address(vm.netns) if vm.netns in present else "-"
        out.append(
            StatusRow(
                "vm",
                vm.name,
                vm.netns,
                f"on {vm.host} port {vm.port_id[:8]} {address}",
                ports.get(vm.name, "?"),
            )
        )
    return out


def _vm_address(namespace: str) -> str:
    out = netns.run("ip", "-n", namespace, "-4", "-o", "addr", "show", "dev", "eth0", check=False)
    found = [
        w
        for line in out.splitlines()
        for i, w in enumerate(line.split())
        if i > 0 and line.split()[i - 1] == "inet"
    ]
    return ",".join(found) or "no address"
