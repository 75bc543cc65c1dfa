"""A live migration's network side for real (``binding-extended``): a VM on hv1 pings its peer
on hv3 across VXLAN; a service-role user binds its port on hv2 (INACTIVE), activates that
binding, and the VM is plugged again on hv2. hv1's agent unwires the port (its network goes),
hv2's wires the tap and reports the port ACTIVE, hv3's FDB entry for the VM's MAC moves to
hv2's tunnel endpoint, and the VM pings its peer again. Then the source's binding is dropped.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from neutrino.agent.dataplane.netlink import NetlinkKernel
from neutrino.agent.main import Agent, AgentSettings
from neutrino.client import Controller, Credentials, Session
from neutrino.common.settings import Settings
from neutrino.domain.hoststate import bridge_name, tap_name, vxlan_name
from neutrino.store.uow import Store
from tests.conftest import ADMIN_PASSWORD
from tests.kernel.lab import UNDERLAY, NetnsLab, run
from tests.live import live_server

HOSTS = ("hv1", "hv2", "hv3")


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def pings(ns: str, ip: str, tries: int = 10) -> bool:
    """ICMP echo from namespace ``ns`` to ``ip`` answered within ``tries`` one-second tries."""
    for _ in range(tries):
        done = subprocess.run(
            ["ip", "netns", "exec", ns, "ping", "-n", "-c", "1", "-W", "1", ip],
            capture_output=True,
        )
        if done.returncode == 0:
            return True
    return False


@pytest.fixture
def url(settings: Settings, store: Store) -> Iterator[str]:
    with live_server(settings, store) as base:
        yield base


def _service_session(admin: Session, auth_url: str) -> Session:
    """A user holding the ``service`` role (the bindings' writer, as Nova's service user)."""
    name = f"nova-{uuid.uuid4().hex[:6]}"
    user = admin.request(
        "POST", "/v3/users", json={"user": {"name": name, "password": name, "domain_id": "default"}}
    )["user"]
    roles = {r["name"]: r["id"] for r in admin.request("GET", "/v3/roles")["roles"]}
    (project,) = admin.request("GET", "/v3/projects", params={"name": "admin"})["projects"]
    admin.request(
        "PUT", f"/v3/projects/{project['id']}/users/{user['id']}/roles/{roles['service']}"
    )
    return Session(
        Credentials(auth_url=auth_url, username=name, password=name, project_name="admin")
    )


def test_activating_a_binding_moves_the_vm_port(url: str) -> None:
    creds = Credentials(
        auth_url=f"{url}/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin"
    )
    lab = NetnsLab()
    agents: list[Agent] = []
    session = Session(creds)
    api = Controller(session)
    service: Session | None = None
    try:
        hvs = lab.underlay(list(HOSTS))
        for i, host in enumerate(HOSTS, start=1):
            agent = Agent(
                AgentSettings(
                    credentials=creds,
                    host=host,
                    netns=hvs[host],
                    tunnel_ip=f"{UNDERLAY}.{i}",
                    resync_interval=2.0,
                    heartbeat_interval=2.0,
                    poll_timeout=2.0,
                )
            )
            agent.start()
            agents.append(agent)
        wait_for("agents registered", lambda: len(api.list_agents()) == len(HOSTS))
        service = _service_session(session, f"{url}/v3")

        net = api.create_network(name="migrate", **{"provider:network_type": "vxlan"})
        vni = net["provider:segmentation_id"]
        api.create_subnet(net["id"], "192.0.2.0/24")
        vm_port = api.create_port(
            net["id"], device_owner="compute:nova", **{"binding:host_id": "hv1"}
        )
        peer_port = api.create_port(net["id"], **{"binding:host_id": "hv3"})
        vm_ip = vm_port["fixed_ips"][0]["ip_address"]
        peer_ip = peer_port["fixed_ips"][0]["ip_address"]
        tap = tap_name(vm_port["id"])
        vm = lab.vm("vm", hvs["hv1"], tap, vm_port["mac_address"], f"{vm_ip}/24")
        lab.vm(
            "peer", hvs["hv3"], tap_name(peer_port["id"]), peer_port["mac_address"], f"{peer_ip}/24"
        )
        for p in (vm_port, peer_port):
            assert api.wait_port(p["id"], "ACTIVE", timeout=20)["plugged"] is True
        assert pings(vm, peer_ip)

        base = f"/v2.0/ports/{vm_port['id']}/bindings"
        made = service.request("POST", base, json={"binding": {"host": "hv2"}})["binding"]
        assert (made["status"], made["vif_type"]) == ("INACTIVE", "bridge")
        assert api.get_port(vm_port["id"])["binding:host_id"] == "hv1"
        assert pings(vm, peer_ip)  # an inactive binding changes nothing on the wire

        activated = service.request("PUT", f"{base}/hv2/activate")["binding"]
        assert activated["status"] == "ACTIVE"
        assert api.get_port(vm_port["id"])["binding:host_id"] == "hv2"
        with NetlinkKernel(hvs["hv1"]) as k1:  # hv1 unwires: its only port of the net left
            wait_for("the network gone on hv1", lambda: k1.get_link(bridge_name(net["id"])) is None)

        # the VM moves: unplugged from hv1, plugged on hv2 with its MAC and address
        run("ip", "-n", hvs["hv1"], "link", "del", tap)
        run(
            "ip", "-n", hvs["hv2"], "link", "add", tap, "mtu", "1450", "type", "veth",
            "peer", "name", "eth0", "netns", vm, "mtu", "1450", "address", vm_port["mac_address"],
        )  # fmt: skip
        run("ip", "-n", vm, "addr", "add", f"{vm_ip}/24", "dev", "eth0")
        run("ip", "-n", vm, "link", "set", "eth0", "up")
        assert api.wait_port(vm_port["id"], "ACTIVE", timeout=20)["plugged"] is True
        with NetlinkKernel(hvs["hv2"]) as k2:
            attached = k2.get_link(tap)
            assert attached is not None and attached.master == bridge_name(net["id"])
        with NetlinkKernel(hvs["hv3"]) as k3:
            wait_for(
                "hv3's FDB entry for the VM pointing at hv2",
                lambda: any(
                    e.mac == vm_port["mac_address"] and e.dst == f"{UNDERLAY}.2"
                    for e in k3.list_fdb(vxlan_name(vni))
                ),
            )
        assert pings(vm, peer_ip)

        # the source's binding, INACTIVE since the switch, is dropped
        hosts = {b["host"]: b["status"] for b in service.request("GET", base)["bindings"]}
        assert hosts == {"hv1": "INACTIVE", "hv2": "ACTIVE"}
        service.request("DELETE", f"{base}/hv1")
        assert [b["host"] for b in service.request("GET", base)["bindings"]] == ["hv2"]
    finally:
        for agent in agents:
            agent.close()
        if service is not None:
            service.close()
        session.close()
        lab.cleanup()
