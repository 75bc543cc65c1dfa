"""The agent's data plane: the only code that touches the kernel (pyroute2, ip, nft, dnsmasq).

* ``base``    — the ``L2Kernel`` protocol, ``Link`` and the error tree (errno → named errors);
* ``netlink`` — ``NetlinkKernel``, the real kernel of one namespace through pyroute2;
* ``fake``    — ``FakeKernel``, the same interface in memory for unit tests;
* ``l2``      — ``L2Manager``, which applies calc's desired ``L2State`` as a minimal diff;
* ``netns``   — the one way into a namespace, and the helpers the other managers share;
* ``nftables``, ``nft``, ``dhcp``, ``l3`` — nft without a process, the security-group, DHCP
  and router managers.

``netlink`` is not imported here, so importing the package (or the fake) needs no pyroute2.
"""

from neutrino.agent.dataplane.base import (
    Busy,
    DataplaneError,
    L2Kernel,
    Link,
    LinkExists,
    LinkNotFound,
    NotPermitted,
    NotSupported,
)
from neutrino.agent.dataplane.fake import FakeKernel
from neutrino.agent.dataplane.l2 import ApplyReport, L2Manager

__all__ = [
    "ApplyReport",
    "Busy",
    "DataplaneError",
    "FakeKernel",
    "L2Kernel",
    "L2Manager",
    "Link",
    "LinkExists",
    "LinkNotFound",
    "NotPermitted",
    "NotSupported",
]
