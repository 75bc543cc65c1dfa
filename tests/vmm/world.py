"""A vmm wired to a real neutrino over HTTP (tests/live.py) as its provider, with L2 agents
registered through the agent API and a host plug that does what a hypervisor and its agent do
once a VM's tap exists: report the port ACTIVE on the agent API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neutrino.client import Controller, Credentials, Session
from neutrino.vmm import model as m
from neutrino.vmm.usecases.base import ADMIN
from neutrino.vmm.usecases.container import Vmm
from tests.conftest import ADMIN_PASSWORD

TUNNEL_IPS = {"hv1": "198.51.100.11", "hv2": "198.51.100.12"}


def provider_api(url: str) -> Controller:
    return Controller(
        Session(
            Credentials(
                auth_url=url + "/v3",
                username="admin",
                password=ADMIN_PASSWORD,
                project_name="admin",
            )
        )
    )


@dataclass
class World:
    vmm: Vmm
    api: Controller  # the provider, as its admin sees it
    provider: dict[str, Any]
    dc: dict[str, Any]
    cluster: dict[str, Any]
    hosts: dict[str, dict[str, Any]]
    plugged: list[tuple[str, str]] = field(default_factory=list)  # (host, port id)
    unplugged: list[str] = field(default_factory=list)  # vNIC ids

    def plug(self, vm: m.Vm, host: m.Host, nic: m.Vnic, port: dict[str, Any]) -> None:
        self.plugged.append((host.provider_host, port["id"]))
        self.api.report_port_status(port["id"], "ACTIVE", host.provider_host)

    def unplug(self, vm: m.Vm, nic: m.Vnic) -> None:
        self.unplugged.append(nic.id)

    def network(self, name: str, cidr: str) -> dict[str, Any]:
        net = self.api.create_network(name=name)
        self.api.create_subnet(net["id"], cidr)
        return net

    def imported(self, *names: str) -> list[dict[str, Any]]:
        ids = [self.network(n, f"192.0.2.{i * 16}/28")["id"] for i, n in enumerate(names)]
        return self.vmm.networks.import_(ADMIN, self.provider["id"], self.dc["id"], ids)

    def profile(self, network_id: str) -> dict[str, Any]:
        return self.vmm.inventory.list_profiles(ADMIN, network_id=network_id)[0]


def make_world(url: str, vmm: Vmm) -> World:
    api = provider_api(url)
    for host, ip in TUNNEL_IPS.items():
        api.report_agent(host, {"tunnel_ip": ip, "tunnel_types": ["vxlan"]}, start_flag=True)
    provider = vmm.providers.add(
        ADMIN,
        {
            "name": "prov1",
            "url": url,
            "auth_url": url + "/v3",
            "username": "admin",
            "password": ADMIN_PASSWORD,
        },
    )
    dc = vmm.inventory.add_datacenter(ADMIN, {"name": "dc1"})
    cluster = vmm.inventory.add_cluster(ADMIN, {"name": "c1", "datacenter_id": dc["id"]})
    hosts = {
        h: vmm.inventory.add_host(
            ADMIN, {"name": f"host-{h}", "cluster_id": cluster["id"], "provider_host": h}
        )
        for h in ("hv1", "hv2")
    }
    world = World(vmm, api, provider, dc, cluster, hosts)
    vmm.set_host_plug(world.plug, world.unplug)
    return world
