"""A model of the oVirt engine as an OpenStack Networking client: the calls its external network
provider proxy makes, with the request bodies it builds, so a test can replay the engine's
sequences against neutrino.

Written from reading ovirt-engine (``bll/provider/network/openstack``: BaseNetworkProviderProxy,
PortForUpdate, KeystoneV3TokenProvider, ExternalNetworkTokenProvider,
OpenStackTokenProviderFactory) and the openstack-java-sdk it uses. What it does, in short:

- Auth: an auth URL ending in ``/v3`` means Keystone v3 (``POST <auth>/auth/tokens``, password of
  a user in a domain, project scope only when a project name is configured; the token is the
  ``X-Subject-Token`` header); otherwise Keystone v2.0 (``POST <auth>/tokens`` with
  ``passwordCredentials`` and, for the "OpenStack Networking" provider type, ``tenantName``; the
  "external network provider" type sends no tenant). The token goes out as ``X-Auth-Token``;
  on a 401 the SDK drops the token, authenticates again and retries once.
- Every path is under ``<provider url>/v2.0``. Test connection is ``GET /v2.0/``.
- Import/sync: ``GET /v2.0/networks`` (the whole list), mapping name, id, mtu, provider type,
  physical network, VLAN id (only for vlan), port_security_enabled.
- Create network: admin_state_up, name, mtu (only when not the default), provider attributes
  (physnet + vlan/segmentation id, or flat), port_security_enabled, and tenant_id "oVirt" only
  when the provider needs no authentication. Create subnet: ``GET`` the network, then ``POST``
  cidr, ip_version, name, network_id, enable_dhcp=true, gateway_ip, dns_nameservers and the
  network's tenant_id. Subnets are listed whole and filtered by network_id client-side.
- vNIC allocate: the FULL ``GET /v2.0/ports`` and a client-side scan for device_owner "oVirt"
  and device_id == the vNIC id. None found: ``GET`` the network, ``POST`` a port. Found: ``PUT``
  only when the host or the security groups changed; the body carries ``security_groups`` (even
  null: PortForUpdate serializes it always) only when they changed, and ``binding:host_id`` plus
  the vNIC's ``mac_address`` only when the host changed. Security groups come from the vNIC
  profile: absent = the default group (sent as omitted / null), empty = none (``[]``), else a
  list. "Changed" is: default wanted and the port has none, or an explicit list that differs.
- Deallocate: the same scan, then ``DELETE /v2.0/ports/{id}``.

Nulls are left out of bodies (the SDK's Jackson mapper), except PortForUpdate's security_groups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

DEVICE_OWNER = "oVirt"
API = "/v2.0"


class ProviderFailure(Exception):
    """What the engine reports as PROVIDER_FAILURE: any non-2xx answer."""

    def __init__(self, method: str, url: str, response: httpx.Response) -> None:
        super().__init__(f"{method} {url} -> {response.status_code}: {response.text}")
        self.status_code = response.status_code
        self.response = response


@dataclass
class Provider:
    """An external network provider as configured in the engine."""

    url: str  # "" for a TestClient (relative paths), else http://host:port
    auth_url: str  # .../v2.0 (Keystone v2.0) or .../v3
    username: str
    password: str
    tenant_name: str | None = None  # v2.0: None is the external-provider type (no tenant)
    user_domain_name: str = "Default"  # v3
    project_name: str | None = None  # v3: None means no scope in the request
    project_domain_name: str = "Default"  # v3
    plugin_type: str = "LINUX_BRIDGE"


@dataclass
class Call:
    method: str
    path: str
    body: Any = None
    status: int = 0


@dataclass
class VmNic:
    id: str
    name: str
    mac_address: str


@dataclass
class VnicProfile:
    """``security_groups``: None = the SecurityGroups custom property is absent (default group),
    [] = present and empty (no groups), else the listed group ids."""

    security_groups: list[str] | None = None


@dataclass
class EngineNetwork:
    """The part of an oVirt logical network that goes to the provider."""

    name: str
    mtu: int = 0  # 0 is oVirt's "default MTU": not sent
    physical_network: str | None = None
    vlan_id: int | None = None
    port_security_enabled: bool | None = None


@dataclass
class ImportedNetwork:
    external_id: str
    name: str
    mtu: int
    network_type: str | None
    physical_network: str | None
    vlan_id: int | None
    port_security_enabled: bool | None


@dataclass
class ExternalSubnet:
    cidr: str
    name: str
    network_id: str
    ip_version: int = 4
    gateway: str | None = None
    dns_servers: list[str] | None = None
    id: str = ""


@dataclass
class Engine:
    """One engine's proxy for one provider, over an httpx client (a TestClient works too).
    The engine's 30 s per-call timeout is the client's to set."""

    http: httpx.Client
    provider: Provider
    calls: list[Call] = field(default_factory=list)  # network API calls, in order
    auth_calls: list[Call] = field(default_factory=list)
    _token: str | None = None

    # --- auth ---------------------------------------------------------------------------

    @property
    def uses_v3(self) -> bool:
        return self.provider.auth_url.rstrip("/").endswith("/v3")

    def token(self) -> str:
        if self._token is None:
            self._token = self._authenticate_v3() if self.uses_v3 else self._authenticate_v2()
        return self._token

    def expire_token(self) -> None:
        self._token = None

    def _authenticate_v2(self) -> str:
        p = self.provider
        auth: dict[str, Any] = {
            "passwordCredentials": {"username": p.username, "password": p.password}
        }
        if p.tenant_name is not None:
            auth["tenantName"] = p.tenant_name
        body = {"auth": auth}
        r = self.http.post(
            p.auth_url.rstrip("/") + "/tokens", json=body, headers={"Accept": "application/json"}
        )
        self.auth_calls.append(Call("POST", "/tokens", body, r.status_code))
        if r.status_code != 200:
            raise ProviderFailure("POST", p.auth_url + "/tokens", r)
        return str(r.json()["access"]["token"]["id"])

    def _authenticate_v3(self) -> str:
        p = self.provider
        auth: dict[str, Any] = {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "domain": {"name": p.user_domain_name},
                        "name": p.username,
                        "password": p.password,
                    }
                },
            }
        }
        if p.project_name:
            auth["scope"] = {
                "project": {"domain": {"name": p.project_domain_name}, "name": p.project_name}
            }
        body = {"auth": auth}
        r = self.http.post(
            p.auth_url.rstrip("/") + "/auth/tokens",
            json=body,
            headers={"Accept": "application/json"},
        )
        self.auth_calls.append(Call("POST", "/auth/tokens", body, r.status_code))
        if r.status_code != 201:
            raise ProviderFailure("POST", p.auth_url + "/auth/tokens", r)
        return r.headers["X-Subject-Token"]

    # --- transport ----------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One network API call (path under /v2.0); the JSON answer, or None for 204."""
        url = self.provider.url + API + path
        call = Call(method, API + path, body)
        self.calls.append(call)
        response = self._send(method, url, body)
        if response.status_code == 401:  # the SDK re-authenticates once
            self.expire_token()
            response = self._send(method, url, body)
        call.status = response.status_code
        if response.status_code >= 300:
            raise ProviderFailure(method, url, response)
        return response.json() if response.content else None

    def _send(self, method: str, url: str, body: Any) -> httpx.Response:
        headers = {"Accept": "application/json", "X-Auth-Token": self.token()}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body)
        return self.http.request(method, url, headers=headers, content=content)

    def reset_log(self) -> None:
        self.calls.clear()

    def log(self) -> list[tuple[str, str]]:
        return [(c.method, c.path) for c in self.calls]

    # --- provider operations -------------------------------------------------------------

    def test_connection(self) -> Any:
        return self.request("GET", "/")

    def get_all(self) -> list[ImportedNetwork]:
        return [self._imported(n) for n in self.request("GET", "/networks")["networks"]]

    def get(self, network_id: str) -> dict[str, Any]:
        return self.request("GET", f"/networks/{network_id}")["network"]  # type: ignore[no-any-return]

    def add(self, network: EngineNetwork) -> str:
        body: dict[str, Any] = {"admin_state_up": True, "name": network.name}
        if network.mtu:
            body["mtu"] = network.mtu
        if network.physical_network is not None:
            body["provider:physical_network"] = network.physical_network
            if network.vlan_id is not None:
                body["provider:network_type"] = "vlan"
                body["provider:segmentation_id"] = network.vlan_id
            else:
                body["provider:network_type"] = "flat"
        if network.port_security_enabled is not None:
            body["port_security_enabled"] = network.port_security_enabled
        return str(self.request("POST", "/networks", {"network": body})["network"]["id"])

    def remove(self, network_id: str) -> None:
        self.request("DELETE", f"/networks/{network_id}")

    def get_all_subnets(self, network_id: str) -> list[ExternalSubnet]:
        subnets = self.request("GET", "/subnets")["subnets"]
        return [
            ExternalSubnet(
                id=s["id"],
                cidr=s["cidr"],
                name=s["name"],
                network_id=s["network_id"],
                ip_version=int(s["ip_version"]),
                gateway=s["gateway_ip"],
                dns_servers=s["dns_nameservers"],
            )
            for s in subnets
            if s["network_id"] == network_id
        ]

    def add_subnet(self, subnet: ExternalSubnet) -> dict[str, Any]:
        network = self.get(subnet.network_id)
        body: dict[str, Any] = {
            "cidr": subnet.cidr,
            "ip_version": subnet.ip_version,
            "name": subnet.name,
            "network_id": network["id"],
            "enable_dhcp": True,
        }
        if subnet.gateway is not None:
            body["gateway_ip"] = subnet.gateway
        if subnet.dns_servers is not None:
            body["dns_nameservers"] = subnet.dns_servers
        if network.get("tenant_id") is not None:
            body["tenant_id"] = network["tenant_id"]
        return self.request("POST", "/subnets", {"subnet": body})["subnet"]  # type: ignore[no-any-return]

    def remove_subnet(self, subnet_id: str) -> None:
        self.request("DELETE", f"/subnets/{subnet_id}")

    def locate_port(self, nic: VmNic) -> dict[str, Any] | None:
        for port in self.request("GET", "/ports")["ports"]:
            if port.get("device_owner") == DEVICE_OWNER and port.get("device_id") == nic.id:
                return port  # type: ignore[no-any-return]
        return None

    def allocate(
        self, network_id: str, profile: VnicProfile, nic: VmNic, host_binding_id: str
    ) -> dict[str, str]:
        port = self.locate_port(nic)
        wanted = profile.security_groups
        if port is None:
            network = self.get(network_id)
            body: dict[str, Any] = {
                "admin_state_up": True,
                "name": nic.name,
                "mac_address": nic.mac_address,
                "network_id": network["id"],
                "device_owner": DEVICE_OWNER,
                "device_id": nic.id,
                "binding:host_id": host_binding_id,
            }
            if wanted is not None:
                body["security_groups"] = wanted
            if network.get("tenant_id") is not None:
                body["tenant_id"] = network["tenant_id"]
            port = self.request("POST", "/ports", {"port": body})["port"]
        else:
            groups_changed = security_groups_changed(port.get("security_groups"), wanted)
            host_changed = port.get("binding:host_id") != host_binding_id
            if groups_changed or host_changed:
                update: dict[str, Any] = {}
                if groups_changed:
                    update["security_groups"] = wanted  # null included, as PortForUpdate does
                if host_changed:
                    update["binding:host_id"] = host_binding_id
                    update["mac_address"] = nic.mac_address
                port = self.request("PUT", f"/ports/{port['id']}", {"port": update})["port"]
        assert port is not None
        properties = {
            "vnic_id": port["id"],
            "provider_type": "EXTERNAL_NETWORK",
            "plugin_type": self.provider.plugin_type,
        }
        if port.get("security_groups"):
            properties["security_groups"] = ",".join(port["security_groups"])
        return properties

    def deallocate(self, nic: VmNic) -> None:
        port = self.locate_port(nic)
        if port is not None:
            self.request("DELETE", f"/ports/{port['id']}")

    @staticmethod
    def _imported(n: dict[str, Any]) -> ImportedNetwork:
        network_type = n.get("provider:network_type")
        segmentation_id = n.get("provider:segmentation_id")
        return ImportedNetwork(
            external_id=n["id"],
            name=n["name"],
            mtu=n["mtu"],
            network_type=network_type,
            physical_network=n.get("provider:physical_network"),
            vlan_id=int(segmentation_id) if network_type == "vlan" and segmentation_id else None,
            port_security_enabled=n.get("port_security_enabled"),
        )


def security_groups_changed(existing: list[str] | None, wanted: list[str] | None) -> bool:
    """The engine's rule (BaseNetworkProviderProxy.securityGroupsChanged)."""
    have = existing or []
    if wanted is None:
        return not have
    return sorted(have) != sorted(wanted)
