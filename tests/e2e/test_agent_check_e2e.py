"""``neutrino agent check`` against a live controller and a real hypervisor namespace: it
lists what is missing before anything is built, nothing on a converged host, and exactly an
FDB entry deleted by hand afterwards — and never changes the kernel."""

from __future__ import annotations

import subprocess

from typer.testing import CliRunner

from neutrino.agent.calc import compute_l2
from neutrino.agent.dataplane import L2Manager
from neutrino.agent.dataplane.netlink import NetlinkKernel
from neutrino.agent.model import AgentConfig
from neutrino.cli.main import app
from neutrino.client import Controller, Credentials, Session
from tests.conftest import ADMIN_PASSWORD
from tests.kernel.lab import UNDERLAY, NetnsLab

runner = CliRunner()


def test_agent_check_lists_exactly_the_drift(live_url: str) -> None:
    creds = Credentials(
        auth_url=f"{live_url}/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin"
    )
    env = {
        "OS_AUTH_URL": creds.auth_url,
        "OS_USERNAME": creds.username,
        "OS_PASSWORD": creds.password,
        "OS_PROJECT_NAME": creds.project_name,
    }
    lab = NetnsLab()
    try:
        hv = lab.underlay(["hv1"])["hv1"]
        with Session(creds) as session:
            api = Controller(session)
            for i, host in enumerate(("hv1", "hv2"), start=1):
                api.report_agent(
                    host,
                    {"tunnel_ip": f"{UNDERLAY}.{i}", "tunnel_types": ["vxlan"]},
                    start_flag=True,
                )
            net = api.create_network(name="drift", **{"provider:network_type": "vxlan"})
            api.create_subnet(net["id"], "192.0.2.0/24", enable_dhcp=False)
            api.create_port(net["id"], **{"binding:host_id": "hv1"})
            remote = api.create_port(net["id"], **{"binding:host_id": "hv2"})
            state = api.watch_host_state("hv1").state
        assert state is not None
        args = ["agent", "check", "--host", "hv1", "--netns", hv, "--tunnel-ip", f"{UNDERLAY}.1"]
        args.append("--no-security-groups")  # L2 alone here; the lab test checks them all
        before = runner.invoke(app, args, env=env)
        assert before.exit_code == 3, before.output
        vni = net["provider:segmentation_id"]
        assert f"missing vxlan-{vni}" in before.output and "missing brq" in before.output

        desired = compute_l2(state, AgentConfig(local_ip=f"{UNDERLAY}.1", underlay_dev="eth1"))
        with NetlinkKernel(hv) as kernel:
            L2Manager(kernel).apply(desired)
        converged = runner.invoke(app, args, env=env)
        assert converged.exit_code == 0, converged.output
        assert "0 difference(s) on hv1" in converged.output

        mac = remote["mac_address"]
        subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                hv,
                "bridge",
                "fdb",
                "del",
                mac,
                "dev",
                f"vxlan-{vni}",
                "dst",
                f"{UNDERLAY}.2",
            ],
            check=True,
        )
        after = runner.invoke(app, args, env=env)
        assert after.exit_code == 3, after.output
        lines = [line for line in after.output.splitlines() if line.strip()]
        assert lines == [
            f"missing fdb vxlan-{vni} {mac} dst {UNDERLAY}.2",
            "1 difference(s) on hv1",
        ], after.output
        again = runner.invoke(app, args, env=env)  # the check repaired nothing
        assert again.output == after.output
    finally:
        lab.cleanup()
