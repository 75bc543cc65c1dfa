"""Lab "VMs": namespaces plugged into Neutron ports, addressed by our DHCP.

``create_vm(lab, name, host, port_id=… | network=…)``: with ``network`` (id or name) a port
is created (``device_owner`` ``compute:lab``); with ``port_id`` that port is used. The VM is
namespace ``<prefix><name>`` whose ``eth0`` (the port's MAC, the network's MTU) is
veth-paired to ``tap<port[:11]>`` in the host's namespace; only then is the port bound to
``host`` (unless it already is), so the agent finds the tap in the round the binding
triggers, wires it and reports the port ACTIVE, which we wait for. Then busybox
``udhcpc`` runs in the VM with ``UDHCPC_SCRIPT`` (address, MTU option 26, default route, DNS
only into a per-namespace resolv.conf) until it has a lease (retried until the deadline: the
DHCP host entry reaches dnsmasq asynchronously); each event's environment is dumped to
``vms/<name>/lease.<event>``, and the lease is returned.

A VM whose creation fails is removed again (namespace, port, record): a retry starts clean.
``delete_vm`` deletes the namespace (its veth pair goes with it) and the port if we created
it. ``exec_vm`` runs a command inside. The VM is recorded before anything is made, so
``lab down`` removes half-made VMs too.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neutrino.client import ClientError, NotFound
from neutrino.domain.hoststate import tap_name
from neutrino.lab import netns
from neutrino.lab.netns import LabError
from neutrino.lab.runtime import Lab
from neutrino.lab.state import HostRecord, VmRecord

__all__ = ["UDHCPC_SCRIPT", "Lease", "create_vm", "delete_vm", "exec_vm", "vm_address"]

OWNER = "compute:lab"

UDHCPC_SCRIPT = """#!/bin/sh
# neutrino lab: busybox udhcpc event script for a VM namespace.
[ -n "$UDHCPC_ENV_DUMP" ] && env | sort > "$UDHCPC_ENV_DUMP.$1"
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    if grep -q " /etc/resolv.conf " /proc/self/mountinfo; then
      {
        [ -n "$domain" ] && echo "search $domain"
        for d in $dns; do echo "nameserver $d"; done
      } > /etc/resolv.conf
    fi
    ;;
esac
exit 0
"""


@dataclass(frozen=True)
class Lease:
    """What the VM's DHCP client was given (empty ``ip`` when the port has no DHCP)."""

    ip: str
    mask: str
    router: str
    dns: tuple[str, ...]
    mtu: int | None
    env: dict[str, str]


def _resolve_network(api: Any, network: str) -> str:
    try:
        return str(api.get_network(network)["id"])
    except NotFound:
        found = api.list_networks(name=network)
        if len(found) != 1:
            raise LabError(f"{len(found)} networks named {network!r}") from None
        return str(found[0]["id"])


def _port_for(
    lab: Lab, name: str, port_id: str | None, network: str | None
) -> tuple[dict[str, Any], int, bool, bool]:
    """(port, network MTU, created, has a DHCP subnet); a new port is not bound yet."""
    with lab.controller() as api:
        if network is not None:
            port = api.create_port(
                _resolve_network(api, network), name=name, device_id=name, device_owner=OWNER
            )
            created = True
        elif port_id is not None:
            port = api.get_port(port_id)
            created = False
        else:
            raise LabError("give --port or --network")
        mtu = int(api.get_network(port["network_id"]).get("mtu") or 1500)
        dhcp = any(
            api.get_subnet(f["subnet_id"]).get("enable_dhcp") for f in port.get("fixed_ips", [])
        )
    return port, mtu, created, dhcp


def create_vm(
    lab: Lab,
    name: str,
    host: str,
    *,
    port_id: str | None = None,
    network: str | None = None,
    timeout: float = 30.0,
) -> tuple[VmRecord, Lease]:
    state = lab.state()
    if name in state.vms:
        raise LabError(f"VM {name} exists")
    try:
        hv = state.host(host)
    except KeyError:
        raise LabError(f"no host {host} in this lab") from None
    if shutil.which("busybox") is None:  # the DHCP client: check before making anything
        raise LabError("busybox (udhcpc) is not installed")
    deadline = time.monotonic() + timeout
    lab.progress(f"port for {name} on {hv.name}")
    try:
        port, mtu, created, dhcp = _port_for(lab, name, port_id, network)
    except ClientError as exc:
        raise LabError(f"port: {exc}") from exc
    vm = VmRecord(
        name=name,
        netns=f"{state.prefix}{name}",
        host=hv.name,
        port_id=port["id"],
        mac=port["mac_address"],
        created_port=created,
    )
    state.vms[name] = vm
    state.save(lab.dir)
    try:
        return vm, _plug(lab, vm, hv, port, mtu, dhcp, deadline)
    except BaseException:
        lab.progress(f"failed: removing {name} (namespace, port)")
        delete_vm(lab, name)
        raise


def _plug(
    lab: Lab,
    vm: VmRecord,
    hv: HostRecord,
    port: dict[str, Any],
    mtu: int,
    dhcp: bool,
    deadline: float,
) -> Lease:
    """Namespace, veth, binding, ACTIVE, then the DHCP lease (see the module docstring)."""
    lab.progress(f"namespace {vm.netns}: eth0 {vm.mac} <-> {tap_name(vm.port_id)} in {hv.netns}")
    netns.add_namespace(vm.netns)
    netns.plug_vm(hv.netns, tap_name(vm.port_id), vm.netns, vm.mac, mtu)
    lab.progress(f"waiting for port {vm.port_id[:8]} ACTIVE")
    with lab.controller() as api:
        if port.get("binding:host_id") != hv.name:  # bound after plugging: wired at once
            attrs: dict[str, Any] = {"binding:host_id": hv.name}
            if not port.get("device_owner"):
                attrs.update(device_owner=OWNER, device_id=vm.name)
            api.update_port(vm.port_id, **attrs)
        event = api.wait_port(vm.port_id, "ACTIVE", timeout=max(1.0, deadline - time.monotonic()))
    if event.get("status") != "ACTIVE":
        raise LabError(f"port {vm.port_id} not ACTIVE: {event}")
    if not dhcp:
        return Lease("", "", "", (), None, {})
    lab.progress(f"DHCP in {vm.netns}")
    return run_dhcp_client(lab, vm, deadline)


def run_dhcp_client(lab: Lab, vm: VmRecord, deadline: float) -> Lease:
    busybox = shutil.which("busybox")
    if busybox is None:
        raise LabError("busybox (udhcpc) is not installed")
    directory = lab.dir / "vms" / vm.name
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "udhcpc.script"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    dump = directory / "lease"
    argv = [
        busybox,
        "udhcpc",
        "-i",
        "eth0",
        "-f",
        "-q",
        "-n",
        "-t",
        "3",
        "-T",
        "1",
        "-A",
        "1",
        "-O",
        "mtu",
        "-s",
        str(script),
    ]
    last = ""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LabError(f"{vm.name}: no DHCP lease before the timeout: {last}")
        try:
            done = netns.exec_in(
                vm.netns,
                argv,
                capture_output=True,
                timeout=max(5.0, remaining),
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "UDHCPC_ENV_DUMP": str(dump)},
            )
        except subprocess.TimeoutExpired:
            continue
        bound = dump.with_name("lease.bound")
        if done.returncode == 0 and bound.exists():
            env = dict(line.split("=", 1) for line in bound.read_text().splitlines() if "=" in line)
            return Lease(
                ip=env.get("ip", ""),
                mask=env.get("mask", ""),
                router=env.get("router", "").split(" ")[0],
                dns=tuple(env.get("dns", "").split()),
                mtu=int(env["mtu"]) if env.get("mtu", "").isdigit() else None,
                env=env,
            )
        last = (done.stdout + done.stderr).strip()[-300:]


def delete_vm(lab: Lab, name: str) -> bool:
    """Delete VM ``name`` (namespace, veth pair, its port if the lab created it)."""
    state = lab.state()
    vm = state.vms.get(name)
    if vm is None:
        return False
    lab.progress(f"namespace {vm.netns}")
    netns.delete_namespace(vm.netns)
    if vm.created_port:
        lab.progress(f"port {vm.port_id}")
        try:
            with lab.controller() as api:
                api.delete_port(vm.port_id)
        except NotFound:
            pass
    shutil.rmtree(lab.dir / "vms" / name, ignore_errors=True)
    del state.vms[name]
    state.save(lab.dir)
    return True


def exec_vm(
    lab: Lab, name: str, argv: Sequence[str], **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside VM ``name``, or in the outside world when ``name`` is ``ext``
    (``lab up --external``); output to ours unless ``capture_output``."""
    return netns.exec_in(_namespace_of(lab, name), list(argv), **kwargs)


def vm_address(lab: Lab, name: str) -> str:
    """The IPv4 address of VM ``name``'s ``eth0`` (what DHCP gave it)."""
    out = netns.run(
        "ip", "-n", _namespace_of(lab, name), "-4", "-o", "addr", "show", "dev", "eth0", check=False
    ).split()
    found = [out[i + 1].split("/")[0] for i, word in enumerate(out[:-1]) if word == "inet"]
    if not found:
        raise LabError(f"{name} has no IPv4 address")
    return found[0]


def _namespace_of(lab: Lab, name: str) -> str:
    state = lab.state()
    if name == "ext" and state.external:
        return state.external
    vm = state.vms.get(name)
    if vm is None:
        raise LabError(f"no VM {name}")
    return vm.netns
