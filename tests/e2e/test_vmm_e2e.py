"""The manager side end to end in the lab: two providers (two neutrino controllers, each with
its own lab and agents: two hypervisors and a DHCP network node, and one hypervisor), the vmm
in this process reaching both over HTTP, and the lab host plug (``neutrino.lab.vmmplug``) as
the hypervisor side.

Proves: providers added and tested (good and three kinds of bad), a network imported from
each, a network with a subnet created on one from the manager, two VMs started on two hosts
(ports ACTIVE, DHCP addresses in the VM namespaces, ping between them), a migration under a
100 pps ping (the loss is printed), a hot-unplug (the port is gone), the profile's security
groups unset / [] / list reaching the provider exactly, a host whose agent is administratively
down, and then one whose agent is stopped (dead after 75 s without heartbeats), refused with
its reason, auto-sync picking up a network made behind the manager's back and marking one
deleted, and a provider in use refusing removal (409).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from neutrino.client import NotFound
from neutrino.common.errors import NamedConflict
from neutrino.lab import Lab
from neutrino.lab.netns import list_namespaces
from neutrino.lab.state import VmRecord
from neutrino.lab.vmmplug import LabHostPlug
from neutrino.lab.vms import run_dhcp_client
from neutrino.vmm.secrets import Cipher
from neutrino.vmm.storage import migrate
from neutrino.vmm.storage.repo import VmmStore
from neutrino.vmm.usecases.base import ADMIN
from neutrino.vmm.usecases.container import Vmm
from tests.live import free_port


@pytest.fixture
def second_lab() -> Iterator[tuple[Path, str]]:
    directory = Path(tempfile.mkdtemp(prefix="neutrino-lab-", dir="/tmp"))
    directory.chmod(0o755)
    prefix = f"nm{uuid.uuid4().hex[:6]}-"
    try:
        yield directory, prefix
    finally:
        try:
            Lab(directory).down()
        finally:
            for name in list_namespaces():
                if name.startswith(prefix) or (name.startswith("qdhcp-") and f"-{prefix}" in name):
                    subprocess.run(["ip", "netns", "del", name], capture_output=True)
            shutil.rmtree(directory, ignore_errors=True)


class Plugs:
    """Routes each plug to the lab of the port's provider (its hosts' namespaces)."""

    def __init__(self, labs: dict[str, LabHostPlug]) -> None:
        self.labs = labs  # provider_host prefix "a-"/"b-" is not needed: hosts are per lab
        self.by_host: dict[str, LabHostPlug] = {}

    def prepare(self, vm: Any, host: Any, nic: Any) -> None:
        self.by_host[host.name].prepare(vm, host, nic)

    def plug(self, vm: Any, host: Any, nic: Any, port: dict[str, Any]) -> None:
        self.by_host[host.name].plug(vm, host, nic, port)

    def unplug(self, vm: Any, nic: Any) -> None:
        for plug in self.labs.values():
            plug.unplug(vm, nic)


def _provider_body(lab: Lab, name: str) -> dict[str, Any]:
    creds = lab.state().creds
    return {
        "name": name,
        "url": creds.auth_url.rsplit("/v3", 1)[0],
        "auth_url": creds.auth_url,
        "username": creds.username,
        "password": creds.password,
        "project": creds.project_name,
        "sync_interval": 0,
    }


def _ping_loss(ns: str, target: str, count: int, interval: float = 0.01) -> tuple[int, int]:
    done = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "ping",
            "-n",
            "-q",
            "-i",
            str(interval),
            "-c",
            str(count),
            "-W",
            "1",
            target,
        ],
        capture_output=True,
        text=True,
        timeout=count * interval + 30,
    )
    m = re.search(r"(\d+) packets transmitted, (\d+) received", done.stdout)
    assert m, done.stdout + done.stderr
    return int(m.group(1)), int(m.group(2))


def test_vmm_end_to_end_with_two_providers(
    lab_dir: tuple[Path, str], second_lab: tuple[Path, str], tmp_path: Path
) -> None:
    labs = {"a": Lab(lab_dir[0]), "b": Lab(second_lab[0])}
    labs["a"].up(hosts=2, network_nodes=1, prefix=lab_dir[1], use_env=False, timeout=90)
    labs["b"].up(hosts=1, network_nodes=0, prefix=second_lab[1], use_env=False, timeout=90)
    url = f"sqlite:///{tmp_path / 'vmm.db'}"
    migrate.upgrade(url)
    vmm = Vmm(VmmStore(url, Cipher(Fernet.generate_key())), timeout=15, wait_timeout=30)
    try:
        _run(vmm, labs)
    finally:
        vmm.close()


def _run(vmm: Vmm, labs: dict[str, Lab]) -> None:
    # providers: good, and three kinds of bad
    pa = vmm.providers.add(ADMIN, _provider_body(labs["a"], "lab-a"))
    pb = vmm.providers.add(ADMIN, _provider_body(labs["b"], "lab-b"))
    assert vmm.providers.test(ADMIN, pa["id"]).ok and vmm.providers.test(ADMIN, pb["id"]).ok
    dead = f"http://127.0.0.1:{free_port()}"
    bad = {
        "wrong-password": {"password": "nope"},
        "unreachable": {"url": dead, "auth_url": dead + "/v3"},
        "not-networking": {"url": _provider_body(labs["a"], "x")["auth_url"]},
    }
    kinds = {}
    for name, over in bad.items():
        p = vmm.providers.add(ADMIN, {**_provider_body(labs["a"], name), **over})
        kinds[name] = vmm.providers.test(ADMIN, p["id"]).kind
        vmm.providers.remove(ADMIN, p["id"])
    assert kinds == {
        "wrong-password": "bad_credentials",
        "unreachable": "unreachable",
        "not-networking": "not_networking",
    }

    dc = vmm.inventory.add_datacenter(ADMIN, {"name": "dc"})
    cluster = vmm.inventory.add_cluster(ADMIN, {"name": "c", "datacenter_id": dc["id"]})
    hosts = {}
    for name in ("hv1", "hv2"):
        hosts[name] = vmm.inventory.add_host(
            ADMIN, {"name": f"a-{name}", "cluster_id": cluster["id"], "provider_host": name}
        )
    plugs = Plugs({"a": LabHostPlug(labs["a"]), "b": LabHostPlug(labs["b"])})
    plugs.by_host = {"a-hv1": plugs.labs["a"], "a-hv2": plugs.labs["a"]}
    vmm.set_host_plug(plugs.plug, plugs.unplug, plugs.prepare)

    # import one network from each provider; create one with a subnet from the manager
    with labs["a"].controller() as api_a, labs["b"].controller() as api_b:
        ext_a = api_a.create_network(name="imported-a")
        api_a.create_subnet(ext_a["id"], "198.51.100.0/24", gateway_ip=None)
        ext_b = api_b.create_network(name="imported-b")
        [net_a] = vmm.networks.import_(ADMIN, pa["id"], dc["id"], [ext_a["id"]])
        [net_b] = vmm.networks.import_(ADMIN, pb["id"], dc["id"], [ext_b["id"]])
        assert net_b["provider_id"] == pb["id"]
        made = vmm.networks.create(
            ADMIN,
            {
                "provider_id": pa["id"],
                "datacenter_id": dc["id"],
                "name": "made",
                "subnets": [{"cidr": "192.0.2.0/24", "gateway_ip": "192.0.2.1"}],
            },
        )
        assert api_a.get_network(made["external_id"])["name"] == "made"

        # security groups per profile reach the provider exactly
        sg = api_a.session.request(
            "POST", "/v2.0/security-groups", json={"security_group": {"name": "web"}}
        )["security_group"]
        unset = vmm.inventory.list_profiles(ADMIN, network_id=made["id"])[0]
        empty = vmm.inventory.add_profile(
            ADMIN, {"name": "open", "network_id": made["id"], "security_groups": []}
        )
        listed = vmm.inventory.add_profile(
            ADMIN, {"name": "web", "network_id": net_a["id"], "security_groups": [sg["id"]]}
        )
        vm1 = vmm.vms.create(
            ADMIN,
            {
                "name": "vm1",
                "cluster_id": cluster["id"],
                "nics": [
                    {"name": "eth0", "profile_id": unset["id"]},
                    {"name": "eth1", "profile_id": listed["id"]},
                ],
            },
        )
        # (both VMs talk on eth0 in the default group; vm2's eth1 has no groups: all dropped)
        vm2 = vmm.vms.create(
            ADMIN,
            {
                "name": "vm2",
                "cluster_id": cluster["id"],
                "nics": [
                    {"name": "eth0", "profile_id": unset["id"]},
                    {"name": "eth1", "profile_id": empty["id"]},
                ],
            },
        )
        s1 = vmm.vms.start(ADMIN, vm1["id"], host_id=hosts["hv1"]["id"])
        s2 = vmm.vms.start(ADMIN, vm2["id"], host_id=hosts["hv2"]["id"])
        for started in (s1, s2):
            assert {p["status"] for p in started["ports"].values()} == {"ACTIVE"}
        shown1, shown2 = vmm.vms.show(ADMIN, vm1["id"]), vmm.vms.show(ADMIN, vm2["id"])
        nic = {(v["name"], n["name"]): n for v in (shown1, shown2) for n in v["nics"]}
        port = {k: api_a.get_port(n["port_id"]) for k, n in nic.items()}
        default = [
            g["id"]
            for g in api_a.session.request(
                "GET", "/v2.0/security-groups", params={"name": "default"}
            )["security_groups"]
            if g["tenant_id"] == port[("vm1", "eth0")]["tenant_id"]
        ]
        assert port[("vm1", "eth0")]["security_groups"] == default
        assert port[("vm2", "eth0")]["security_groups"] == default
        assert port[("vm2", "eth1")]["security_groups"] == []
        assert port[("vm1", "eth1")]["security_groups"] == [sg["id"]]
        assert port[("vm1", "eth0")]["binding:host_id"] == "hv1"

        # DHCP in the VM namespaces, then traffic between the VMs
        leases = {}
        for vm_name in ("vm1", "vm2"):
            ns = plugs.labs["a"].namespace(vm_name, "eth0")
            rec = VmRecord(
                name=f"{vm_name}-eth0",
                netns=ns,
                host="",
                port_id="",
                mac=nic[(vm_name, "eth0")]["mac"],
            )
            leases[vm_name] = run_dhcp_client(labs["a"], rec, time.monotonic() + 60).ip
            assert leases[vm_name] == port[(vm_name, "eth0")]["fixed_ips"][0]["ip_address"]
        vm2_ns = plugs.labs["a"].namespace("vm2", "eth0")
        sent, got = _ping_loss(vm2_ns, leases["vm1"], 20, 0.05)
        assert got == sent, f"ping vm2 -> vm1 before migration: {got}/{sent}"

        # migrate vm1 to hv2 while vm2 pings it at 100 pps
        pinger = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                vm2_ns,
                "ping",
                "-n",
                "-q",
                "-i",
                "0.01",
                "-c",
                "600",
                "-W",
                "1",
                leases["vm1"],
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(1.5)
        moved = vmm.vms.migrate(ADMIN, vm1["id"], host_id=hosts["hv2"]["id"])
        out, _ = pinger.communicate(timeout=60)
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        assert m, out
        sent, got = int(m.group(1)), int(m.group(2))
        t_moved = time.monotonic()
        recovered = None
        while time.monotonic() - t_moved < 30:
            if _ping_loss(vm2_ns, leases["vm1"], 1, 0.2)[1] == 1:
                recovered = time.monotonic() - t_moved
                break
        print(
            f"\nmigration hv1 -> hv2 under 100 pps: {sent - got}/{sent} lost "
            f"({(sent - got) * 10} ms of traffic); answering again "
            f"{recovered if recovered is None else round(recovered, 2)} s after the pinger"
        )
        if recovered is None:
            for ns in (f"{labs['a'].state().prefix}hv2", f"{labs['a'].state().prefix}hv1"):
                print(
                    ns,
                    subprocess.run(
                        ["bridge", "-n", ns, "fdb", "show"], capture_output=True, text=True
                    ).stdout,
                )
                print(
                    subprocess.run(
                        ["ip", "-n", ns, "-br", "link"], capture_output=True, text=True
                    ).stdout
                )
        assert moved["host"] == "a-hv2"
        assert api_a.get_port(nic[("vm1", "eth0")]["port_id"])["binding:host_id"] == "hv2"
        assert recovered is not None, "no traffic after the migration"

        # hot-unplug: the port is gone
        vmm.vms.remove_nic(ADMIN, vm1["id"], nic[("vm1", "eth1")]["id"])
        with pytest.raises(NotFound):
            api_a.get_port(nic[("vm1", "eth1")]["port_id"])

        # a host whose agent is down is refused with its reason
        agent = api_a.list_agents(host="hv1", agent_type="L2 agent")[0]
        api_a.session.request(
            "PUT", f"/v2.0/agents/{agent['id']}", json={"agent": {"admin_state_up": False}}
        )
        vm3 = vmm.vms.create(
            ADMIN,
            {
                "name": "vm3",
                "cluster_id": cluster["id"],
                "nics": [{"name": "eth0", "profile_id": unset["id"]}],
            },
        )
        with pytest.raises(NamedConflict) as refused:
            vmm.vms.start(ADMIN, vm3["id"], host_id=hosts["hv1"]["id"])
        assert (
            "a-hv1: its L2 agent on provider lab-a is administratively down"
            in refused.value.message
        )

        # auto-sync: a network made behind the manager's back, one deleted
        api_a.create_network(name="behind")
        api_a.delete_network(ext_a["id"])
        report = vmm.sync.run(ADMIN, pa["id"])
        assert "behind" in report.offered and report.gone == ["imported-a"]

        # a provider in use cannot be removed
        with pytest.raises(NamedConflict) as in_use:
            vmm.providers.remove(ADMIN, pa["id"])
        assert in_use.value.status == 409 and in_use.value.type == "ProviderInUse"
        vmm.providers.remove(ADMIN, pb["id"])  # not in use: fine

        # a host whose agent is stopped (frozen: no heartbeats) is refused once it is dead
        api_a.session.request(
            "PUT", f"/v2.0/agents/{agent['id']}", json={"agent": {"admin_state_up": True}}
        )
        children = json.loads((labs["a"].dir / "children.json").read_text())
        pid = int(children["agent-hv1"]["pid"])
        os.kill(pid, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 120
            while api_a.list_agents(host="hv1", agent_type="L2 agent")[0]["alive"]:
                assert time.monotonic() < deadline, "the stopped agent still looks alive"
                time.sleep(2)
            with pytest.raises(NamedConflict) as refused:
                vmm.vms.start(ADMIN, vm3["id"], host_id=hosts["hv1"]["id"])
            assert "a-hv1: its L2 agent on provider lab-a is dead" in refused.value.message
        finally:
            os.kill(pid, signal.SIGCONT)
