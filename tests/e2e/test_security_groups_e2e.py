"""Security groups end to end: a live controller, two agents (threads) managing namespace
hypervisors, groups, rules and address groups changed through the API, enforcement checked
with ping.

VMs: ``a`` (hv1) and ``b`` (hv2) with the attribute omitted (the project's default group),
``bare`` (hv1) with ``security_groups: []``, ``ext`` (hv2) with port security disabled (the
"external" host that is in no group)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from neutrino.agent.main import Agent, AgentSettings
from neutrino.client import Controller, Credentials, Session
from neutrino.common.settings import Settings
from neutrino.domain.hoststate import tap_name
from neutrino.store.uow import Store
from tests.conftest import ADMIN_PASSWORD
from tests.e2e.test_overlay_e2e import wait_for
from tests.kernel.lab import UNDERLAY, NetnsLab
from tests.live import live_server


@pytest.fixture
def url(settings: Settings, store: Store) -> Iterator[str]:
    with live_server(settings, store) as base:
        yield base


def ping(vm: str, ip: str, count: int = 1) -> bool:
    return (
        subprocess.run(
            ["ip", "netns", "exec", vm, "ping", "-c", str(count), "-i", "0.2", "-W", "1", "-q", ip],
            capture_output=True,
        ).returncode
        == 0
    )


def reply_time(line: str) -> float:
    """The wall-clock time ``ping -D`` put before a reply line (``[1700000000.123456] 64 ...``)."""
    return float(line[line.index("[") + 1 : line.index("]")])


def start_two_agents(
    creds: Credentials, lab: NetnsLab, session: Session, agents: list[Agent]
) -> dict[str, str]:
    """Agents on hypervisors hv1 and hv2 of ``lab``'s underlay, appended to ``agents`` as
    they start (the caller stops them, a partial list included); returns the hypervisors'
    namespaces once both agents registered."""
    hvs = lab.underlay(["hv1", "hv2"])
    for i, role in enumerate(("hv1", "hv2"), start=1):
        agent = Agent(
            AgentSettings(
                credentials=creds,
                host=role,
                netns=hvs[role],
                tunnel_ip=f"{UNDERLAY}.{i}",
                resync_interval=5.0,
                heartbeat_interval=2.0,
                poll_timeout=2.0,
            )
        )
        agent.start()
        agents.append(agent)
    wait_for(
        "agents registered", lambda: len(session.request("GET", "/v2.0/agents")["agents"]) == 2
    )
    return hvs


def test_groups_rules_membership_and_cut_flows(url: str) -> None:
    creds = Credentials(
        auth_url=f"{url}/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin"
    )
    lab = NetnsLab()
    agents: list[Agent] = []
    session = Session(creds)
    api = Controller(session)

    def post(plural: str, singular: str, **attrs: Any) -> dict[str, Any]:
        body = session.request("POST", f"/v2.0/{plural}", json={singular: attrs})
        return body[singular]  # type: ignore[no-any-return]

    try:
        hvs = start_two_agents(creds, lab, session, agents)
        net = api.create_network(name="sg-e2e", **{"provider:network_type": "vxlan"})
        api.create_subnet(net["id"], "192.0.2.0/24", enable_dhcp=False)
        specs: dict[str, tuple[str, dict[str, Any]]] = {
            "a": ("hv1", {}),
            "b": ("hv2", {}),
            "bare": ("hv1", {"security_groups": []}),
            "ext": ("hv2", {"security_groups": [], "port_security_enabled": False}),
        }
        ports, vms, ips = {}, {}, {}
        for name, (hv, attrs) in specs.items():
            ports[name] = api.create_port(net["id"], **{"binding:host_id": hv}, **attrs)
            ips[name] = ports[name]["fixed_ips"][0]["ip_address"]
            vms[name] = lab.vm(
                name,
                hvs[hv],
                tap_name(ports[name]["id"]),
                ports[name]["mac_address"],
                f"{ips[name]}/24",
            )
        assert len(ports["a"]["security_groups"]) == 1  # omitted: the default group
        for p in ports.values():
            assert api.wait_port(p["id"], "ACTIVE", timeout=15)["plugged"]

        # 1. default group: members talk; a stranger cannot open; a's own flows get replies
        assert ping(vms["a"], ips["b"], 2) and ping(vms["b"], ips["a"], 2)
        assert ping(vms["a"], ips["ext"], 2)
        assert not ping(vms["ext"], ips["a"])
        # 4. no group: nothing in, nothing out
        assert not ping(vms["bare"], ips["ext"]) and not ping(vms["a"], ips["bare"])

        # 2. a rule admitting ICMP from ext's address: enforced without restarting anything
        web = post("security-groups", "security_group", name="web")
        api.update_port(
            ports["a"]["id"], security_groups=[*ports["a"]["security_groups"], web["id"]]
        )
        started = time.monotonic()
        icmp = post(
            "security-group-rules",
            "security_group_rule",
            security_group_id=web["id"],
            direction="ingress",
            ethertype="IPv4",
            protocol="icmp",
            remote_ip_prefix=f"{ips['ext']}/32",
        )
        wait_for("ICMP rule enforced", lambda: ping(vms["ext"], ips["a"]), timeout=10)
        print(f"rule create -> first reply: {time.monotonic() - started:.3f} s")

        # 5. deleting the rule stops a running ping within a second. The replies are timed by
        # ping itself (-D: the wall clock when each arrived), not when this process reads its
        # output, so a loaded machine does not make a prompt cut look late; the ping outlives
        # the 2 s looked at, so a late reply would be seen.
        pinger = subprocess.Popen(
            ["ip", "netns", "exec", vms["ext"], "ping", "-D", "-i", "0.05", "-w", "30", ips["a"]],
            stdout=subprocess.PIPE,
            text=True,
        )
        replies: list[float] = []

        def read() -> None:
            assert pinger.stdout is not None
            replies.extend(reply_time(line) for line in pinger.stdout if "bytes from" in line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            wait_for("ping running", lambda: len(replies) >= 5, timeout=15)
            session.request("DELETE", f"/v2.0/security-group-rules/{icmp['id']}")
            deleted = time.time()
            time.sleep(2.0)  # the window looked at: absence can only be watched
            assert pinger.poll() is None, "the ping ended before the window did"
        finally:
            pinger.kill()
            pinger.wait()
            reader.join(5)
        late = [t - deleted for t in replies if t > deleted + 1.0]
        assert not late, f"{len(late)} replies more than 1 s after the rule was deleted: {late}"
        print(f"rule delete -> last reply: {max(replies) - deleted:.3f} s")

        # 2b. a remote-group rule follows membership (b joins and leaves "members")
        members = post("security-groups", "security_group", name="members")
        post(
            "security-group-rules",
            "security_group_rule",
            security_group_id=web["id"],
            direction="ingress",
            ethertype="IPv4",
            remote_group_id=members["id"],
        )
        assert not ping(vms["ext"], ips["a"])
        api.update_port(
            ports["ext"]["id"], port_security_enabled=True, security_groups=[members["id"]]
        )
        wait_for("member admitted", lambda: ping(vms["ext"], ips["a"]), timeout=10)
        api.update_port(ports["ext"]["id"], security_groups=[])
        wait_for("member left", lambda: not ping(vms["ext"], ips["a"]), timeout=10)

        # 2c. a remote address group: ext's address in it is admitted, out of it dropped
        api.update_port(ports["ext"]["id"], port_security_enabled=False)
        group = post("address-groups", "address_group", name="ag", addresses=[f"{ips['ext']}/32"])
        post(
            "security-group-rules",
            "security_group_rule",
            security_group_id=web["id"],
            direction="ingress",
            ethertype="IPv4",
            protocol="icmp",
            remote_address_group_id=group["id"],
        )
        wait_for("address in the group admitted", lambda: ping(vms["ext"], ips["a"]), timeout=10)
        actions = f"/v2.0/address-groups/{group['id']}"
        session.request("PUT", f"{actions}/add_addresses", json={"addresses": ["198.51.100.0/24"]})
        session.request(
            "PUT", f"{actions}/remove_addresses", json={"addresses": [f"{ips['ext']}/32"]}
        )
        wait_for("address out of the group dropped", lambda: not ping(vms["ext"], ips["a"]), 10)
        assert ping(vms["b"], ips["a"])  # the default group's own rule still admits b
    finally:
        for agent in agents:
            agent.close()
        session.close()
        lab.cleanup()
