"""What every L2 kernel backend offers: the ``L2Kernel`` protocol, its values and its errors.

Two backends implement ``L2Kernel``: ``netlink.NetlinkKernel`` (pyroute2, the real kernel of one
network namespace) and ``fake.FakeKernel`` (in memory, for unit tests of calc and the manager).
Both raise only the errors below, so callers never see an errno or a pyroute2 exception::

    DataplaneError            anything the kernel refused; ``retryable`` says whether to retry
    ├── LinkNotFound          ENODEV / ENOENT on a link: a device named in the call is missing
    ├── LinkExists            EEXIST, or a device with that name exists with other properties
    ├── NotPermitted          EPERM / EACCES: not root, or a read-only namespace
    ├── NotSupported          EOPNOTSUPP / EAFNOSUPPORT: the kernel lacks the feature
    └── Busy                  EBUSY / EAGAIN / ENOBUFS: transient, retryable

``ensure_*`` operations are idempotent: calling one twice with the same arguments leaves the
kernel as after one call and does not recreate anything.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

from neutrino.agent.model import FdbEntry, NeighEntry


class DataplaneError(Exception):
    """The kernel refused an operation. ``retryable`` is True only for transient errors."""

    retryable = False

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class LinkNotFound(DataplaneError):
    """A device named in the operation does not exist."""


class LinkExists(DataplaneError):
    """A device with that name already exists (possibly of another kind or configuration)."""


class NotPermitted(DataplaneError):
    """The caller lacks the privilege (EPERM/EACCES)."""


class NotSupported(DataplaneError):
    """The kernel does not support the requested device type or option."""


class Busy(DataplaneError):
    """A transient failure (EBUSY, EAGAIN, ENOBUFS): retry with backoff."""

    retryable = True


_BY_ERRNO: dict[int, type[DataplaneError]] = {
    errno.ENODEV: LinkNotFound,
    errno.ENOENT: LinkNotFound,
    errno.EEXIST: LinkExists,
    errno.EPERM: NotPermitted,
    errno.EACCES: NotPermitted,
    errno.EOPNOTSUPP: NotSupported,
    errno.EAFNOSUPPORT: NotSupported,
    errno.EBUSY: Busy,
    errno.EAGAIN: Busy,
    errno.ENOBUFS: Busy,
}


def error_from_errno(code: int, what: str) -> DataplaneError:
    """The named error for errno ``code`` (``DataplaneError`` for ones without a name)."""
    cls = _BY_ERRNO.get(code, DataplaneError)
    return cls(f"{what}: {errno.errorcode.get(code, str(code))}", code)


@dataclass
class KeyedReport:
    """One ``apply`` of a manager of independent objects (DHCP networks, routers): each is
    applied on its own, so one that fails (kept in ``failed``) never blocks the others."""

    applied: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, DataplaneError] = field(default_factory=dict)

    def converge(
        self,
        desired: Collection[str],
        owned: set[str],
        ensure: Callable[[str], None],
        remove: Callable[[str], None],
    ) -> None:
        """``ensure`` each desired key, then ``remove`` each owned one no longer desired."""
        steps = [(k, ensure, self.applied) for k in sorted(desired)]
        steps += [(k, remove, self.removed) for k in sorted(owned - set(desired))]
        for key, action, done in steps:
            try:
                action(key)
                done.append(key)
            except DataplaneError as exc:
                self.failed[key] = exc


@dataclass(frozen=True)
class Link:
    """A network device as listed by ``L2Kernel.list_links``.

    ``vxlan`` holds (vni, local_ip, underlay dev name, learning, proxy) for VXLAN devices;
    ``vlan`` (tag, name of the device it is on) for 802.1Q sub-interfaces.
    """

    name: str
    index: int
    kind: str
    mtu: int
    master: str | None
    up: bool
    vxlan: tuple[int, str, str | None, bool, bool] | None = None
    vlan: tuple[int, str | None] | None = None


class L2Kernel(Protocol):
    """The L2 operations of one network namespace (see the module docstring for errors)."""

    def ensure_bridge(self, name: str, mtu: int) -> int:
        """Create bridge ``name`` (mcast snooping off) or fix its MTU; return its ifindex."""
        ...

    def ensure_vxlan(self, name: str, vni: int, local_ip: str, dev: str, mtu: int) -> int:
        """Create an l2pop VXLAN device (nolearning, proxy, dstport 4789); LinkExists if a
        device of that name exists with another configuration."""
        ...

    def ensure_vlan(self, name: str, link: str, vlan_id: int) -> int:
        """Create 802.1Q sub-interface ``name`` of ``link`` with tag ``vlan_id``;
        LinkNotFound when ``link`` is missing, LinkExists if ``name`` exists otherwise,
        NotSupported on a kernel without 8021q."""
        ...

    def attach(self, port_dev: str, bridge: str) -> None:
        """Enslave ``port_dev`` to ``bridge`` (no-op when it already is)."""
        ...

    def detach(self, port_dev: str) -> None:
        """Release ``port_dev`` from its bridge (no-op when it has none)."""
        ...

    def set_mtu(self, name: str, mtu: int) -> None: ...

    def set_up(self, name: str) -> None: ...

    def delete_link(self, name: str) -> bool:
        """Delete device ``name`` if it exists; True if it did."""
        ...

    def list_links(self, prefixes: tuple[str, ...]) -> dict[str, Link]:
        """Devices whose names start with one of ``prefixes`` (only what neutrino owns)."""
        ...

    def get_link(self, name: str) -> Link | None: ...

    def list_fdb(self, device: str) -> set[FdbEntry]:
        """The remote (``dst``) FDB entries of VXLAN ``device``, flood entries included."""
        ...

    def ensure_fdb(self, entry: FdbEntry) -> None: ...

    def forget_learned(self, device: str, mac: str) -> None:
        """Drop the entry the bridge learned for ``mac`` on its port ``device`` (if any; a
        backend may skip the call when the device's last ``list_fdb`` showed none)."""
        ...

    def remove_fdb(self, entry: FdbEntry) -> None: ...

    def list_neigh(self, device: str) -> set[NeighEntry]:
        """The permanent neighbour entries of ``device``."""
        ...

    def ensure_neigh(self, entry: NeighEntry) -> None: ...

    def remove_neigh(self, entry: NeighEntry) -> None: ...
