"""What the lab needs on this machine, checked before ``lab up`` creates anything.

``ip`` (iproute2) builds the namespaces, ``dnsmasq`` serves DHCP on the network nodes,
``nft`` enforces security groups and routers' NAT, ``busybox`` is the VMs' DHCP client
(``udhcpc``) and ``ping``. ``ensure_tools`` installs the missing Debian packages with
``apt-get`` when it can (root and apt-get present), else raises ``LabError`` naming them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

from neutrino.lab.netns import LabError

__all__ = ["TOOLS", "ensure_tools", "missing_tools"]

TOOLS = {"ip": "iproute2", "dnsmasq": "dnsmasq-base", "nft": "nftables", "busybox": "busybox"}


def missing_tools() -> dict[str, str]:
    """Missing command -> the Debian package that has it."""
    return {tool: pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None}


def ensure_tools(progress: Callable[[str], None] = lambda _m: None) -> None:
    missing = missing_tools()
    if not missing:
        return
    packages = sorted(set(missing.values()))
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise LabError(f"the lab needs {', '.join(sorted(missing))}: install {' '.join(packages)}")
    progress(f"installing {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise LabError(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    still = missing_tools()
    if still:
        raise LabError(f"still missing after installing: {', '.join(sorted(still))}")
