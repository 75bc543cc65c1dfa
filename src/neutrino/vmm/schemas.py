"""What ``/vmm/v1`` accepts and answers, as OpenAPI operations (pure data, no FastAPI).

The routes take raw requests (Neutron-style ``{"provider": {...}}`` bodies, validated by the
use cases, which name the bad field in a 400), so FastAPI alone knows only the paths. Each
route carries its operation here under ``x-operation`` (``routes.describe``): a summary, who may
call it (the description), its query parameters and request body, its success status and
result member, and the error statuses it may answer; the server's OpenAPI builder turns that
into the operation, every error with Neutron's envelope.

Who may call what: providers are admin-only (reads too: they hold credentials); the inventory
(data centers, clusters, hosts, networks, vNIC profiles) is read by any authenticated user (a
member picks a cluster and profiles for a VM) and written by admins; VMs and their vNICs are
their project's (members write, readers read), admins see and manage all.

The bodies' schemas say what a valid request looks like (types, required fields, enums);
the use cases stay the authority (a MAC pool's range, a CIDR, an interval's bounds), and what
they refuse is a 400, never a 500.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
PREFIX = "/vmm/v1"
ADMIN_ONLY = "Admin only."
MEMBERS = "Members: the VMs of their project (a reader may only read); admins: every VM."
ANYONE = "Any authenticated user."

WRITE = (400, 401, 403, 404, 409)
READ = (400, 401, 403, 404)
PROVIDER = (*WRITE, 502)  # the provider's own refusals are passed on; 502 when it fails

_S: Schema = {"type": "string"}
_ID: Schema = {"type": "string", "maxLength": 64}
_NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 255}
_BOOL: Schema = {"type": "boolean"}
_STRINGS: Schema = {"type": "array", "items": _S}


def _obj(props: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    out: Schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


PROVIDER_BODY = _obj(
    {
        "name": _NAME,
        "description": _S,
        "url": {"type": "string", "format": "uri", "description": "the Networking API"},
        "auth_url": {"type": "string", "format": "uri", "description": "Keystone"},
        "keystone_version": {"enum": ["v3", "v2.0"]},
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "minLength": 1, "writeOnly": True},
        "project": _S,
        "user_domain": _S,
        "project_domain": _S,
        "read_only": _BOOL,
        "sync_interval": {"type": "integer", "minimum": 0, "description": "seconds; 0 = off"},
    },
    ("name", "url", "auth_url", "username", "password"),
)
PROVIDER_UPDATE = {**PROVIDER_BODY, "required": []}
DATACENTER_BODY = _obj(
    {"name": _NAME, "description": _S, "mac_pool": {"type": "string", "example": "02:00-02:ff"}},
    ("name",),
)
CLUSTER_BODY = _obj({"name": _NAME, "datacenter_id": _ID}, ("name", "datacenter_id"))
HOST_BODY = _obj({"name": _NAME, "cluster_id": _ID, "provider_host": _NAME}, ("name", "cluster_id"))
PROFILE_BODY = _obj(
    {
        "name": _NAME,
        "network_id": _ID,
        "security_groups": {
            "type": ["array", "null"],
            "items": _ID,
            "description": "absent/null: the provider's default group; []: none",
        },
    },
    ("name", "network_id"),
)
SUBNET = _obj(
    {
        "cidr": _S,
        "name": _S,
        "ip_version": {"enum": [4, 6]},
        "gateway_ip": {"type": ["string", "null"]},
        "dns_nameservers": _STRINGS,
        "enable_dhcp": _BOOL,
        "ipv6_ra_mode": {"enum": ["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]},
        "ipv6_address_mode": {"enum": ["slaac", "dhcpv6-stateful", "dhcpv6-stateless"]},
        "allocation_pools": {"type": "array", "items": _obj({"start": _S, "end": _S})},
    },
    ("cidr",),
)
NETWORK_BODY = _obj(
    {
        "provider_id": {**_ID, "description": "set: create on that provider and import"},
        "datacenter_id": _ID,
        "name": _NAME,
        "description": _S,
        "mtu": {"type": "integer", "minimum": 68},
        "network_type": _S,
        "physical_network": _S,
        "segmentation_id": {"type": "integer", "minimum": 1},
        "port_security_enabled": _BOOL,
        "subnets": {"type": "array", "items": SUBNET},
    },
    ("name", "datacenter_id"),
)
NIC_BODY = _obj(
    {"name": _NAME, "profile_id": _ID, "mac": {"type": "string", "example": "02:00:00:00:00:01"}},
    ("name", "profile_id"),
)
NIC_UPDATE = _obj({"plugged": _BOOL, "profile_id": _ID})
VM_BODY = _obj(
    {
        "name": _NAME,
        "cluster_id": _ID,
        "project_id": {**_ID, "description": "another project: admin only"},
        "nics": {"type": "array", "items": NIC_BODY},
    },
    ("name", "cluster_id"),
)
IMPORT_BODY = _obj(
    {"datacenter_id": _ID, "external_ids": {"type": "array", "items": _ID}}, ("datacenter_id",)
)
RUN_BODY = _obj({"host_id": _ID, "wait": _BOOL})


def _member(name: str, inner: Schema) -> Schema:
    return {"type": "object", "required": [name], "properties": {name: inner}}


def _q(name: str, schema: Schema, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema}


FLAG: Schema = {"type": "boolean"}


def _op(
    summary: str,
    who: str,
    success: int,
    errors: tuple[int, ...],
    *,
    body: Schema | None = None,
    query: list[Schema] | None = None,
    result: str | None = None,
) -> Schema:
    op: Schema = {
        "summary": summary,
        "description": who,
        "success": success,
        "errors": list(errors),
        "result": None if success == 204 or result is None else _member(result, {"type": "object"}),
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if query:
        op["parameters"] = query
    return op


def _collection(plural: str, member: str, body: Schema, who: str, filters: list[Schema]) -> Any:
    return {
        (f"{PREFIX}/{plural}", "get"): _op(
            f"List {plural}", ANYONE, 200, READ, query=filters, result=plural
        ),
        (f"{PREFIX}/{plural}", "post"): _op(
            f"Add a {member}", who, 201, WRITE, body=_member(member, body), result=member
        ),
    }


NAME_FILTER = _q("name", _S)
P = f"{PREFIX}/providers/{{pid}}"
V = f"{PREFIX}/vms/{{vid}}"

OPERATIONS: dict[tuple[str, str], Schema] = {
    (f"{PREFIX}/providers", "get"): _op(
        "List providers", ADMIN_ONLY, 200, READ, query=[NAME_FILTER], result="providers"
    ),
    (f"{PREFIX}/providers", "post"): _op(
        "Add a provider",
        ADMIN_ONLY,
        201,
        WRITE,
        body=_member("provider", PROVIDER_BODY),
        result="provider",
    ),
    (P, "get"): _op("Show a provider and its events", ADMIN_ONLY, 200, READ, result="provider"),
    (P, "put"): _op(
        "Update a provider",
        ADMIN_ONLY,
        200,
        WRITE,
        body=_member("provider", PROVIDER_UPDATE),
        result="provider",
    ),
    (P, "delete"): _op("Remove a provider (409 while a vNIC uses it)", ADMIN_ONLY, 204, WRITE),
    (f"{P}/test", "post"): _op(
        "Test the connection: a token, then GET /v2.0/", ADMIN_ONLY, 200, READ, result="check"
    ),
    (f"{P}/sync", "post"): _op("Sync now", ADMIN_ONLY, 200, PROVIDER, result="sync"),
    (f"{P}/networks", "get"): _op(
        "Discover: the provider's networks not yet in a data center",
        ADMIN_ONLY,
        200,
        (*READ, 502),
        query=[_q("datacenter_id", _ID, required=True)],
        result="networks",
    ),
    (f"{P}/import", "post"): _op(
        "Import provider networks into a data center",
        ADMIN_ONLY,
        201,
        PROVIDER,
        body=IMPORT_BODY,
        result="networks",
    ),
    **_collection("datacenters", "datacenter", DATACENTER_BODY, ADMIN_ONLY, [NAME_FILTER]),
    (f"{PREFIX}/datacenters/{{dcid}}", "delete"): _op(
        "Remove a data center (force: its VMs and their ports too)",
        ADMIN_ONLY,
        204,
        PROVIDER,
        query=[_q("force", FLAG)],
    ),
    **_collection("clusters", "cluster", CLUSTER_BODY, ADMIN_ONLY, [NAME_FILTER]),
    **_collection("hosts", "host", HOST_BODY, ADMIN_ONLY, [NAME_FILTER]),
    (f"{PREFIX}/hosts/{{rid}}", "delete"): _op("Remove a host", ADMIN_ONLY, 204, WRITE),
    **_collection(
        "vnicprofiles",
        "vnicprofile",
        PROFILE_BODY,
        ADMIN_ONLY,
        [NAME_FILTER, _q("network_id", _ID)],
    ),
    (f"{PREFIX}/vnicprofiles/{{rid}}", "delete"): _op(
        "Remove a vNIC profile", ADMIN_ONLY, 204, WRITE
    ),
    (f"{PREFIX}/networks", "get"): _op(
        "List networks",
        ANYONE,
        200,
        READ,
        query=[_q("datacenter_id", _ID), NAME_FILTER],
        result="networks",
    ),
    (f"{PREFIX}/networks", "post"): _op(
        "Add a network: the manager's own, or created on a provider (with subnets) and imported",
        ADMIN_ONLY,
        201,
        PROVIDER,
        body=_member("network", NETWORK_BODY),
        result="network",
    ),
    (f"{PREFIX}/networks/{{nid}}", "get"): _op(
        "Show a network, its subnets read live from the provider",
        ANYONE,
        200,
        (*READ, 502),
        result="network",
    ),
    (f"{PREFIX}/networks/{{nid}}", "delete"): _op(
        "Remove a network (from_provider: there too)",
        ADMIN_ONLY,
        204,
        PROVIDER,
        query=[_q("from_provider", FLAG)],
    ),
    (f"{PREFIX}/vms", "get"): _op(
        "List VMs", MEMBERS, 200, READ, query=[NAME_FILTER], result="vms"
    ),
    (f"{PREFIX}/vms", "post"): _op(
        "Define a VM with its vNICs", MEMBERS, 201, WRITE, body=_member("vm", VM_BODY), result="vm"
    ),
    (V, "get"): _op("Show a VM, its vNICs' ports and libvirt XML", MEMBERS, 200, READ, result="vm"),
    (V, "delete"): _op("Delete a stopped VM and its ports", MEMBERS, 204, PROVIDER),
    (f"{V}/start", "post"): _op(
        "Start: schedule, bind the ports, plug, wait until ACTIVE",
        MEMBERS,
        200,
        PROVIDER,
        body=RUN_BODY,
        result="vm",
    ),
    (f"{V}/stop", "post"): _op("Stop: unplug and unbind", MEMBERS, 200, PROVIDER, result="vm"),
    (f"{V}/migrate", "post"): _op(
        "Migrate: move the bindings to another host",
        MEMBERS,
        200,
        PROVIDER,
        body=RUN_BODY,
        result="vm",
    ),
    (f"{V}/nics", "get"): _op("List a VM's vNICs", MEMBERS, 200, READ, result="nics"),
    (f"{V}/nics", "post"): _op(
        "Add a vNIC (hot-plugged on a running VM)",
        MEMBERS,
        201,
        PROVIDER,
        body=_member("nic", NIC_BODY),
        query=[_q("wait", FLAG)],
        result="nic",
    ),
    (f"{V}/nics/{{nic}}", "put"): _op(
        "Plug/unplug a vNIC or move it to another profile",
        MEMBERS,
        200,
        PROVIDER,
        body=_member("nic", NIC_UPDATE),
        query=[_q("wait", FLAG)],
        result="nic",
    ),
    (f"{V}/nics/{{nic}}", "delete"): _op(
        "Remove a vNIC (its port is deleted)", MEMBERS, 204, PROVIDER
    ),
}


def operation(path: str, method: str) -> Schema | None:
    """The description of one route, or None (a route this table forgot: a test catches it)."""
    return OPERATIONS.get((path, method.lower()))
