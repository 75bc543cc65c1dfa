"""The lab's records and command lines, without root: ``lab.json`` round-trips, the
supervisor's agent command lines carry the host's namespace, tunnel IP and DHCP role, and the
controller comes from OS_* or a clouds.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrino.client import Credentials
from neutrino.lab import HostRecord, LabError, LabState, VmRecord, credentials_from_env
from neutrino.lab.supervisor import agent_argv, controller_argv, credentials_env

CREDS = Credentials(
    auth_url="http://127.0.0.1:1/v3", username="admin", password="pw", project_name="admin"
)


def lab_state() -> LabState:
    return LabState(
        prefix="nlx-",
        underlay="nlx-underlay",
        credentials=CREDS.__dict__.copy(),
        managed_controller=True,
        listen="127.0.0.1:1",
        hosts=[
            HostRecord("hv1", "nlx-hv1", "198.51.100.1"),
            HostRecord("net1", "nlx-net1", "198.51.100.2", dhcp=True),
        ],
        vms={"vm1": VmRecord("vm1", "nlx-vm1", "hv1", "p" * 36, "fa:16:3e:00:00:01")},
    )


def test_record_round_trips_and_lists_namespaces_in_teardown_order(tmp_path: Path) -> None:
    state = lab_state()
    state.save(tmp_path)
    assert (tmp_path / "lab.json").stat().st_mode & 0o777 == 0o600
    loaded = LabState.load(tmp_path)
    assert loaded == state and loaded.creds == CREDS
    assert loaded.namespaces() == ["nlx-vm1", "nlx-hv1", "nlx-net1", "nlx-underlay"]
    assert loaded.host("nlx-net1").name == "net1"
    assert LabState.load(tmp_path / "nothing") is None


def test_agent_command_lines(tmp_path: Path) -> None:
    state = lab_state()
    hv1 = agent_argv(state, tmp_path, "hv1")
    assert hv1[-8:] == [
        "--host",
        "hv1",
        "--netns",
        "nlx-hv1",
        "--tunnel-ip",
        "198.51.100.1",
        "--underlay-dev",
        "eth1",
    ]
    net1 = agent_argv(state, tmp_path, "net1")
    at = net1.index("--dhcp")
    assert net1[at : at + 4] == [
        "--dhcp",
        "--dhcp-state-dir",
        str(tmp_path / "dhcp" / "net1"),
        "--l3",
    ]
    assert "--interface-mappings" not in net1
    state.external = "nlx-ext"
    net1 = agent_argv(state, tmp_path, "net1")
    assert net1[net1.index("--interface-mappings") + 1] == "public:eth2"
    assert "--interface-mappings" not in agent_argv(state, tmp_path, "hv1")
    assert state.namespaces()[-2:] == ["nlx-ext", "nlx-underlay"]
    assert "--admin-password" not in controller_argv(state, tmp_path)
    env = credentials_env(state)
    assert (env["OS_AUTH_URL"], env["OS_PASSWORD"]) == (CREDS.auth_url, "pw")


def test_controller_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert credentials_from_env({}) is None
    named = credentials_from_env(
        {
            "OS_AUTH_URL": "http://x/v3",
            "OS_USERNAME": "u",
            "OS_PASSWORD": "p",
            "OS_PROJECT_NAME": "demo",
        }
    )
    assert named is not None and named.project_name == "demo"
    (tmp_path / "clouds.yaml").write_text(
        "clouds:\n  lab:\n    auth:\n      auth_url: http://y/v3\n      username: a\n"
        "      password: b\n      project_name: c\n"
    )
    monkeypatch.chdir(tmp_path)
    cloud = credentials_from_env({"OS_CLOUD": "lab"})
    assert cloud is not None and (cloud.auth_url, cloud.project_name) == ("http://y/v3", "c")
    with pytest.raises(LabError):
        credentials_from_env({"OS_CLOUD": "other"})
