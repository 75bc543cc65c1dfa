"""The manager's resources as plain dataclasses, and the rules on them that need no I/O.

A ``Network`` is either the manager's own (``provider_id`` None) or linked to a provider
network (``provider_id`` + ``external_id``; at most once per data center). A ``Profile``'s
``security_groups`` is ``None`` (unset: the provider's default group, the attribute is omitted
from the port), ``[]`` (no groups) or a list of group ids. A ``Vnic`` holds the provider port
it has while plugged on a running VM (``port_id`` on ``port_provider_id``), so the port can be
deleted on the provider it lives on even after the profile moved elsewhere.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from neutrino.common.errors import InvalidInput

DEFAULT_SYNC_INTERVAL = 300
DEFAULT_DEVICE_OWNER = "compute:neutrino"
KEYSTONE_VERSIONS = ("v3", "v2.0")
VM_DOWN, VM_UP = "down", "up"
NET_OK, NET_GONE = "ok", "gone"
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Provider:
    name: str
    url: str
    auth_url: str
    username: str
    password: str  # plain in memory; the storage keeps it encrypted
    project: str = "admin"
    description: str = ""
    keystone_version: str = "v3"
    user_domain: str = "Default"
    project_domain: str = "Default"
    read_only: bool = False
    sync_interval: int = DEFAULT_SYNC_INTERVAL
    sync_status: str = ""  # "", "ok", "auth_failed", "error"
    sync_message: str = ""
    id: str = field(default_factory=new_id)

    def view(self) -> dict[str, Any]:
        """The wire form: every field but the password."""
        return {k: v for k, v in vars(self).items() if k != "password"}


@dataclass
class DataCenter:
    name: str
    description: str = ""
    mac_pool: str = "02:6e:00:00:00:00-02:6e:00:ff:ff:ff"
    id: str = field(default_factory=new_id)


@dataclass
class Cluster:
    name: str
    datacenter_id: str
    id: str = field(default_factory=new_id)


@dataclass
class Host:
    name: str
    cluster_id: str
    provider_host: str  # the binding:host_id its provider agents report
    id: str = field(default_factory=new_id)


@dataclass
class Network:
    name: str
    datacenter_id: str
    description: str = ""
    provider_id: str | None = None
    external_id: str | None = None
    status: str = NET_OK
    mtu: int | None = None
    network_type: str | None = None
    physical_network: str | None = None
    segmentation_id: int | None = None
    id: str = field(default_factory=new_id)

    @property
    def linked(self) -> bool:
        return self.provider_id is not None


@dataclass
class Profile:
    name: str
    network_id: str
    security_groups: list[str] | None = None
    id: str = field(default_factory=new_id)


@dataclass
class Vm:
    name: str
    cluster_id: str
    project_id: str
    status: str = VM_DOWN
    host_id: str | None = None
    id: str = field(default_factory=new_id)


@dataclass
class Vnic:
    name: str
    vm_id: str
    profile_id: str
    mac: str
    plugged: bool = True
    port_id: str | None = None
    port_provider_id: str | None = None
    id: str = field(default_factory=new_id)


@dataclass
class Event:
    kind: str
    message: str
    provider_id: str | None = None
    at: float = 0.0
    id: int | None = None


# --- validation (pure) -------------------------------------------------------------------------


def check_name(value: Any, what: str = "name") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise InvalidInput(f"{what} must be a non-empty string of at most 255 characters")
    return value.strip()


def check_text(value: Any, what: str, limit: int = 255) -> str:
    """A string that fits its column (PostgreSQL refuses a longer one)."""
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{what} must be a string of at most {limit} characters")
    return value


def check_url(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > 1024:
        raise InvalidInput(f"{what} must be a URL of at most 1024 characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"{what} '{value}' is not an http(s) URL")
    return value.rstrip("/")


def keystone_version_of(auth_url: str, given: str | None = None) -> str:
    """``v3`` or ``v2.0``: as given, else from the URL's last path segment (default v3)."""
    if given is not None:
        if given not in KEYSTONE_VERSIONS:
            raise InvalidInput(f"keystone_version must be one of {', '.join(KEYSTONE_VERSIONS)}")
        return given
    return "v2.0" if auth_url.rstrip("/").endswith("/v2.0") else "v3"


def check_interval(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 86400:
        raise InvalidInput("sync_interval must be an integer number of seconds, 0..86400 (0 = off)")
    return value


def check_security_groups(value: Any) -> list[str] | None:
    """``None`` (unset), ``[]`` or a list of distinct non-empty strings."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput("security_groups must be null, [] or a list of group ids")
    if len(set(value)) != len(value):
        raise InvalidInput("security_groups lists a group twice")
    return list(value)


def check_mac(value: Any) -> str:
    if not isinstance(value, str) or not _MAC.match(value.lower()):
        raise InvalidInput(f"'{value}' is not a MAC address")
    if int(value[:2], 16) & 1:
        raise InvalidInput(f"'{value}' is a multicast MAC address")
    return value.lower()


def check_bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false")
    return value
