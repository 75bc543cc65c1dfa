"""The keepalived configuration and notify script of an HA router (pure rendering), and the
VRRP state reporter against a recording controller."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

from neutrino.agent.ha_calc import (
    ADVERT_INT,
    HaInstance,
    render_conntrackd,
    render_keepalived,
    render_notify,
)
from neutrino.agent.ha_report import HaReporter
from neutrino.client import Conflict, TransportError

INSTANCE = HaInstance(
    router_id="99999999-1111-4222-8333-000000000001",
    vr_id=3,
    ha_device="ha-77777777-aa",
    ha_address="169.254.192.5",
    peers=("169.254.192.6", "169.254.192.7"),
    vips=(("203.0.113.10/24", "qg-66666666-ee"), ("192.0.2.1/24", "qr-55555555-aa")),
    routes=(("0.0.0.0/0", "203.0.113.1", "qg-66666666-ee"), ("198.51.100.0/24", "192.0.2.9", "")),
)


def test_keepalived_config() -> None:
    text = render_keepalived(INSTANCE, "/run/x/notify.sh")
    assert "vrrp_instance VR_3 {" in text
    for line in (
        "state BACKUP",
        "nopreempt",
        "version 3",
        f"advert_int {ADVERT_INT}",
        "interface ha-77777777-aa",
        "virtual_router_id 3",
        "unicast_src_ip 169.254.192.5",
        "169.254.192.6",
        "169.254.192.7",
        "169.254.0.3/24 dev ha-77777777-aa scope link",
        "203.0.113.10/24 dev qg-66666666-ee",
        "192.0.2.1/24 dev qr-55555555-aa",
        "0.0.0.0/0 via 203.0.113.1 dev qg-66666666-ee protocol 18",
        "198.51.100.0/24 via 192.0.2.9 protocol 18",
        'notify "/run/x/notify.sh"',
    ):
        assert f"    {line}\n" in text or f"        {line}\n" in text, line
    assert ADVERT_INT * 3 < 3.0  # the master is declared dead well inside the 3 s allowed
    assert render_keepalived(INSTANCE, "/n") == render_keepalived(INSTANCE, "/n")


def test_notify_script_records_the_state(tmp_path: Path) -> None:
    script = tmp_path / "notify.sh"
    state = tmp_path / "state"
    script.write_text(render_notify(str(state)))
    for word in ("MASTER", "BACKUP"):
        subprocess.run(["sh", str(script), "INSTANCE", "VR_3", word, "50"], check=True)
        assert state.read_text().strip() == word
    with_ct = render_notify(str(state), ["conntrackd", "-C", "/c.conf"])
    assert "MASTER) conntrackd -C /c.conf -c;" in with_ct


def test_ipv6_link_locals_and_forwarding_follow_the_master(tmp_path: Path) -> None:
    v6 = replace(
        INSTANCE,
        vips=(*INSTANCE.vips, ("2001:db8:a::1/64", "qr-55555555-aa")),
        link_locals=(("fe80::f816:3eff:fe00:10a/64", "qr-55555555-aa"),),
    )
    text = render_keepalived(v6, "/n")
    excluded = text.split("virtual_ipaddress_excluded {")[1].split("}")[0]
    assert "        2001:db8:a::1/64 dev qr-55555555-aa\n" in excluded
    assert "        fe80::f816:3eff:fe00:10a/64 dev qr-55555555-aa scope link\n" in excluded
    assert "fe80" not in render_keepalived(INSTANCE, "/n")  # an IPv4-only router
    script = render_notify(str(tmp_path / "state"), ipv6=True)
    assert "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding" in script
    fake = tmp_path / "forwarding"
    test_script = tmp_path / "notify.sh"
    test_script.write_text(script.replace("/proc/sys/net/ipv6/conf/all/forwarding", str(fake)))
    for word, value in (("MASTER", "1"), ("BACKUP", "0"), ("FAULT", "0")):
        subprocess.run(["sh", str(test_script), "INSTANCE", "VR_3", word, "50"], check=True)
        assert fake.read_text().strip() == value, word
    assert "forwarding" not in render_notify(str(tmp_path / "state"))


def test_conntrackd_config_only_with_one_peer() -> None:
    assert render_conntrackd(INSTANCE, "/d") is None  # two peers: no unicast channel
    text = render_conntrackd(replace(INSTANCE, peers=("169.254.192.6",)), "/d")
    assert text is not None
    for line in (
        "IPv4_address 169.254.192.5",
        "IPv4_Destination_Address 169.254.192.6",
        "Interface ha-77777777-aa",
        "Path /d/conntrackd.ctl",
        "LockFile /d/conntrackd.lock",
        "Mode FTFW {",
    ):
        assert line in text, line


class States:
    def __init__(self) -> None:
        self.state: dict[str, str | None] = {}
        self.running: dict[str, bool] = {}

    def ha_state(self, router_id: str) -> str | None:
        return self.state.get(router_id)

    def ha_running(self, router_id: str) -> bool:
        return self.running.get(router_id, True)


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail: Exception | None = None

    def report_router_ha_state(self, router_id: str, host: str, ha_state: str) -> object:
        if self.fail is not None:
            raise self.fail
        self.sent.append((router_id, host, ha_state))
        return {}


def test_reporter_sends_each_change_once_and_retries_transport_errors() -> None:
    states, sink = States(), Sink()
    reporter = HaReporter(states, sink, "net1")
    reporter.track({"r1"})
    assert reporter.poll() is False and sink.sent == []  # nothing said yet
    states.state["r1"] = "standby"
    reporter.poll()
    reporter.poll()
    assert sink.sent == [("r1", "net1", "standby")]
    states.state["r1"] = "active"
    sink.fail = TransportError("down")
    reporter.poll()
    assert sink.sent == [("r1", "net1", "standby")]
    sink.fail = None
    reporter.poll()
    assert sink.sent[-1] == ("r1", "net1", "active")
    sink.fail = Conflict(409, "RouterNotHostedByL3Agent", "no")  # taken as final
    states.state["r1"] = "standby"
    reporter.poll()
    sink.fail = None
    reporter.poll()
    assert sink.sent[-1] == ("r1", "net1", "active")


def test_reporter_says_once_when_keepalived_stops() -> None:
    states = States()
    reporter = HaReporter(states, None, "net1")
    reporter.track({"r1"})
    states.running["r1"] = False
    assert reporter.poll() is True
    assert reporter.poll() is False  # the apply it asked for is under way
    states.running["r1"] = True
    assert reporter.poll() is False
    states.running["r1"] = False
    assert reporter.poll() is True
