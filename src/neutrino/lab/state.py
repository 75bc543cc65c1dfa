"""What a lab made, on disk: ``<lab dir>/lab.json`` (the record ``lab down`` works from).

The lab directory (``--dir``, else ``$NEUTRINO_LAB_DIR``, else ``/run/neutrino-lab``) holds:

* ``lab.json``       — ``LabState``: namespace prefix, hosts, VMs, controller credentials
  (mode 0600: it holds the admin password of a lab-started controller);
* ``supervisor.pid`` — the supervisor process; ``children.json`` its children (name → pid,
  restarts), rewritten by the supervisor whenever one starts;
* ``controller/``    — the state dir of a lab-started controller (SQLite, token key);
* ``dhcp/<host>/``   — each network node's dnsmasq files (world-traversable: dnsmasq drops
  root); ``vms/<name>/`` — each VM's DHCP client script and lease dumps; ``logs/``.

With ``--external`` the record also names the ``ext`` namespace (bridge ``br-public`` with
203.0.113.1/24, the outside world, and each network node's ``eth2`` on it) and the external
network the lab created (flat, physnet ``public``, subnet 203.0.113.0/24).

The record is written *before* each thing is made, so a lab that failed halfway is still
fully removable. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neutrino.client import Credentials

__all__ = ["DEFAULT_DIR", "HostRecord", "LabState", "VmRecord", "lab_dir"]

DEFAULT_DIR = Path("/run/neutrino-lab")


def lab_dir(given: Path | None = None) -> Path:
    return given or Path(os.environ.get("NEUTRINO_LAB_DIR") or DEFAULT_DIR)


@dataclass
class HostRecord:
    """A hypervisor: controller host name, its namespace, underlay address, DHCP role."""

    name: str
    netns: str
    ip: str
    dhcp: bool = False


@dataclass
class VmRecord:
    name: str
    netns: str
    host: str
    port_id: str
    mac: str
    created_port: bool = False


@dataclass
class LabState:
    prefix: str
    underlay: str
    credentials: dict[str, Any]
    managed_controller: bool
    listen: str | None = None
    hosts: list[HostRecord] = field(default_factory=list)
    vms: dict[str, VmRecord] = field(default_factory=dict)
    external: str | None = None  # the "ext" namespace (``--external``): the outside world
    external_network_id: str | None = None  # the flat ``public`` network made for it

    @property
    def creds(self) -> Credentials:
        return Credentials(**self.credentials)

    def host(self, name: str) -> HostRecord:
        for host in self.hosts:
            if name in (host.name, host.netns):
                return host
        raise KeyError(name)

    def namespaces(self) -> list[str]:
        """Every lab namespace, in teardown order (VMs, hosts, underlay)."""
        return (
            [v.netns for v in self.vms.values()]
            + [h.netns for h in self.hosts]
            + ([self.external] if self.external else [])
            + [self.underlay]
        )

    # --- persistence

    @classmethod
    def load(cls, directory: Path) -> LabState | None:
        path = directory / "lab.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        return cls(
            prefix=raw["prefix"],
            underlay=raw["underlay"],
            credentials=raw["credentials"],
            managed_controller=raw["managed_controller"],
            listen=raw.get("listen"),
            hosts=[HostRecord(**h) for h in raw["hosts"]],
            vms={k: VmRecord(**v) for k, v in raw["vms"].items()},
            external=raw.get("external"),
            external_network_id=raw.get("external_network_id"),
        )

    def save(self, directory: Path) -> None:
        write_json(directory / "lab.json", asdict(self), mode=0o600)


def write_json(path: Path, data: Any, mode: int = 0o644) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.chmod(mode)
    tmp.replace(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
