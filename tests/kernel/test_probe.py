"""The probe's kernel side (``agent.dataplane.probe``) on a bridge of throwaway namespaces:
a probe delivered to the right tap and never seen by the VM behind it, one dropped by a rule
named with its table and chain, and a failed set-up that leaves no table and no monitor."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrino.agent.dataplane.probe import Injection, ProbeError, TapInjection, send_probe
from neutrino.domain.trace.probe import Place, fate
from neutrino.domain.trace.probe_packet import ProbePacket
from tests.kernel.lab import NetnsLab, run

MAC1, MAC2 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"
SEEN = (
    "add table inet seen { chain pre { type filter hook prerouting priority -500; "
    f"@th,64,64 0x{b'neutrino'.hex()} counter; }}; }}"
)


def _world(lab: NetnsLab) -> tuple[str, str, str]:
    hv = lab.ns("hv", ipv6=False)
    run("ip", "-n", hv, "link", "add", "br0", "type", "bridge")
    run("ip", "-n", hv, "link", "set", "br0", "up")
    vm1 = lab.vm("vm1", hv, "tapvm1", MAC1, "192.0.2.1/24")
    vm2 = lab.vm("vm2", hv, "tapvm2", MAC2, "192.0.2.2/24")
    for tap in ("tapvm1", "tapvm2"):
        run("ip", "-n", hv, "link", "set", tap, "master", "br0", "up")
    run("ip", "netns", "exec", vm2, "nft", SEEN)
    return hv, vm1, vm2


def _tables(ns: str) -> str:
    return run("ip", "netns", "exec", ns, "nft", "list", "tables")


def _nft_children() -> list[int]:
    """This process's children that are ``nft`` (monitors left running)."""
    pids = []
    for task in Path("/proc/self/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    found = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "nft":
                found.append(pid)
        except OSError:
            continue
    return found


def test_probe_delivered_dropped_and_cleaned_up(lab: NetnsLab) -> None:
    hv, vm1, vm2 = _world(lab)
    place = Place(hv, "host", "hv")
    shape = ProbePacket("192.0.2.1", "192.0.2.2", "icmp", mark=4242)
    injection = Injection(vm1, "eth0", MAC1, MAC2)
    run_ = send_probe([place], shape, injection, ["tapvm2"])
    found = fate(run_.events, "nprobe-1092")
    assert (found.outcome, found.device, found.path) == ("delivered", "tapvm2", ["host hv"])
    assert "nprobe" not in _tables(hv) and _nft_children() == []
    assert set(run_.timings) == {"setup", "flight", "cleanup"}

    run("ip", "netns", "exec", hv, "nft",
        "add table bridge tst { chain f { type filter hook forward priority 0; "
        "ip saddr 192.0.2.1 drop; }; }")  # fmt: skip
    found = fate(send_probe([place], shape, injection, ["tapvm2"]).events, "nprobe-1092")
    assert (found.outcome, found.table, found.chain) == ("dropped", "bridge tst", "f")
    assert found.rule == "ip saddr 192.0.2.1 drop"

    seen = run("ip", "netns", "exec", vm2, "nft", "list", "table", "inet", "seen")
    assert "counter packets 0 " in seen  # vm2 never saw either probe
    run("ip", "netns", "exec", hv, "nft", "delete table bridge tst")
    run("ip", "netns", "exec", vm1, "python3", "-c",
        "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW);"
        f"s.sendto(bytes.fromhex('{shape.ip().hex()}'), ('192.0.2.2', 0))")  # fmt: skip
    seen = run("ip", "netns", "exec", vm2, "nft", "list", "table", "inet", "seen")
    assert "counter packets 1 " in seen  # ...and counts one sent without the probe's tables

    missing = Place(lab.name("nowhere"), "host", "nowhere")
    with pytest.raises(ProbeError):
        send_probe([place, missing], shape, injection, ["tapvm2"])
    assert "nprobe" not in _tables(hv) and _nft_children() == []


def test_probe_written_into_a_tap_from_the_hypervisor_side(lab: NetnsLab) -> None:
    """An agent's probe (``TapInjection``): written into tapvm1's ingress from the
    hypervisor's namespace (vm1's namespace untouched), it crosses the bridge as vm1's own
    packet would, at the send time given; a listener only listens; a host ready after the
    send time sends nothing, nor one whose tap is missing; no table, monitor or injection
    device is left."""
    import time

    hv, _vm1, vm2 = _world(lab)
    place = Place(hv, "host", "hv")
    shape = ProbePacket("192.0.2.1", "192.0.2.2", "icmp", mark=4243)
    name = f"nprobe-{shape.mark:x}"
    tap = TapInjection(hv, "tapvm1", MAC1, MAC2)
    at = time.monotonic() + 1.5
    run_ = send_probe([place], shape, tap, ["tapvm2"], send_at=at)
    assert run_.events and time.monotonic() >= at
    found = fate(run_.events, name)
    assert (found.outcome, found.device) == ("delivered", "tapvm2"), found
    first = next(e for e in run_.events if e.text.startswith("packet:"))
    assert 'iif "tapvm1"' in first.text  # entered where vm1's packets do
    assert "counter packets 0 " in run("ip", "netns", "exec", vm2, "nft", "list", "table",
                                       "inet", "seen")  # fmt: skip
    assert "npi" not in run("ip", "-n", hv, "-o", "link") and "nprobe" not in _tables(hv)

    heard = send_probe([place], shape, None, ["tapvm2"], send_at=time.monotonic() + 0.8)
    assert heard.events == [] and "flight" in heard.timings  # nothing sent, nothing seen
    with pytest.raises(ProbeError, match="after the time to send"):
        send_probe([place], shape, tap, ["tapvm2"], send_at=time.monotonic() - 1)
    with pytest.raises(ProbeError, match="tapgone"):  # no such tap: the redirect fails
        send_probe([place], shape, TapInjection(hv, "tapgone", MAC1, MAC2), ["tapvm2"])
    assert "npi" not in run("ip", "-n", hv, "-o", "link") and "nprobe" not in _tables(hv)
    assert _nft_children() == []
