"""``PortBindingService``: a port's bindings, ``/v2.0/ports/{port_id}/bindings`` (extension
``binding-extended``), what a live migration uses: bind the port on the destination while it
still runs on the source, switch, drop the source's binding.

A port has one ACTIVE binding (its own ``binding:*`` attributes) and any number of INACTIVE
ones, one per host (``store.models_bindings``). ``create`` binds the port on a host as an
INACTIVE binding: evaluated now (``service.binding.bind``: the host's L2 agent alive and able
to wire the network), and refused when it cannot (409 ``PortBindingError``; Neutron answers
500) or when the host has a binding already (409 ``PortBindingAlreadyExists``). ``activate``
swaps: the host's binding becomes the port's (host, vNIC type, profile, bound again now), the
previous active one becomes INACTIVE with its VIF unbound (as Neutron clears it), the port goes
DOWN; so the port's ``binding:host_id`` moves like a port update's, and the change log's port
update wakes the old host (its agent unwires the port) and the new one (its agent wires the
tap and reports the port ACTIVE). Activating the active host: 409 ``PortBindingAlreadyActive``.
``delete`` drops an INACTIVE binding; deleting the ACTIVE one unbinds the port (host ``""``,
as Neutron leaves a port without an active binding unbound). Every write bumps the port's
revision and logs a port update (Neutron's bindings revise their port), so caches and hosts
follow the one kind they already watch.

Policy, Neutron's defaults: ``get_port_binding`` is admin or the ``service`` role;
``create_port_binding``, ``activate`` and ``delete_port_binding`` are the ``service`` role
(Nova's service user) alone. A caller who may see the port but not its bindings gets an empty
list and 404 for one binding (Neutron hides what policy forbids to show); one who may read but
not write gets 403; a port the caller cannot see is 404 ``PortNotFound``; a creator's body is
checked (400) before the policy (403), as Neutron's API layer does. Only compute and shared
file-system ports have bindings (400 otherwise, ``domain.port_bindings``).

Races: every write locks the port row first (``store.locks``, PostgreSQL; SQLite has one
writer), then reads its bindings: of two activations of one host one wins and the other gets
409; activations of two hosts run one after the other, so exactly one binding is ever ACTIVE.
"""

from __future__ import annotations

from typing import Any

import orjson

from neutrino.common.errors import (
    InvalidInput,
    NamedConflict,
    NotFound,
    PolicyNotAuthorized,
    ResourceNotFound,
    excerpt,
)
from neutrino.domain import port_bindings as rules
from neutrino.domain.attributes import Attr, one_of, parse_create, project_id, string
from neutrino.domain.listing import ListQuery
from neutrino.service import binding, trunk_binding
from neutrino.service.context import RequestContext
from neutrino.service.port_attrs import VNIC_TYPES, binding_profile
from neutrino.store import locks
from neutrino.store import networks as network_repo
from neutrino.store import port_bindings as repo
from neutrino.store import ports as port_repo
from neutrino.store import trunks as trunk_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

SERVICE_ROLE = "service"
PROFILE_MAX = 4095  # Neutron's binding profile column
SPEC: dict[str, Attr] = {
    "host": Attr(string(255), required=True),
    "vnic_type": Attr(one_of(*VNIC_TYPES)),
    "profile": Attr(binding_profile),
    "project_id": Attr(project_id, allow_put=False),  # accepted, as Neutron's map has it
    "tenant_id": Attr(project_id, allow_put=False),
    "vif_type": Attr(allow_post=False, allow_put=False),
    "vif_details": Attr(allow_post=False, allow_put=False),
    "status": Attr(allow_post=False, allow_put=False),
}


def may_read(ctx: RequestContext) -> bool:
    return ctx.is_admin or SERVICE_ROLE in ctx.roles


def may_write(ctx: RequestContext) -> bool:
    return SERVICE_ROLE in ctx.roles


def _view(
    host: str, vif_type: str, vnic_type: str, status: str, profile: str, details: str
) -> dict[str, Any]:
    return {
        "host": host,
        "vif_type": vif_type,
        "vnic_type": vnic_type,
        "status": status,
        "profile": orjson.loads(profile or "{}"),
        "vif_details": orjson.loads(details or "{}"),
    }


def active_view(port: dict[str, Any]) -> dict[str, Any]:
    return _view(
        port["binding_host_id"],
        port["binding_vif_type"],
        port["binding_vnic_type"],
        rules.ACTIVE,
        port["binding_profile"],
        port["binding_vif_details"],
    )


def inactive_view(row: Any) -> dict[str, Any]:
    return _view(
        row["host"],
        row["vif_type"],
        row["vnic_type"],
        rules.INACTIVE,
        row["profile"],
        row["vif_details"],
    )


def _port(conn: Any, ctx: RequestContext, port_id: str) -> dict[str, Any]:
    """The port (404 ``PortNotFound`` when the caller cannot see it), checked to be one that
    has bindings (400). Admins and the service role see every port (Neutron's contexts for
    both skip the project filter); others their project's and those on their networks."""
    port = port_repo.find(conn, port_id)
    visible = port is not None and (
        may_read(ctx)
        or ctx.owns(port["project_id"])
        or ctx.in_project(_network_project(conn, port["network_id"]))
    )
    if port is None or not visible:
        raise ResourceNotFound("Port", port_id)
    rules.check_port(port_id, port["device_owner"])
    return port


def _network_project(conn: Any, network_id: str) -> str:
    net = network_repo.find(conn, network_id)
    return "" if net is None else str(net["project_id"])


def _bind(tx: Tx, port: dict[str, Any], host: str) -> tuple[str, str]:
    subport = trunk_repo.trunk_of_subport(tx.conn, port["id"]) is not None
    return binding.bind(tx, port["id"], port["network_id"], host, subport=subport)


class PortBindingService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- reads

    def search(self, ctx: RequestContext, port_id: str, query: ListQuery) -> list[dict[str, Any]]:
        rules.check_query(query)
        with self.store.read() as conn:
            port = _port(conn, ctx, port_id)
            items = [active_view(port), *(inactive_view(r) for r in repo.of_port(conn, port_id))]
        if not may_read(ctx):
            items = []  # Neutron's policy leaves out every binding it may not show
        return rules.page(items, query, port_id)

    def get(self, ctx: RequestContext, port_id: str, host: str) -> dict[str, Any]:
        with self.store.read() as conn:
            found = self._find(conn, ctx, port_id, host)
        if not may_read(ctx):
            raise NotFound("The resource could not be found.")
        return found

    def _find(self, conn: Any, ctx: RequestContext, port_id: str, host: str) -> dict[str, Any]:
        port = _port(conn, ctx, port_id)
        if port["binding_host_id"] == host:
            return active_view(port)
        row = repo.find(conn, port_id, host)
        if row is None:
            raise rules.not_found(port_id, host)
        return inactive_view(row)

    def _may_write(self, ctx: RequestContext, port_id: str, host: str, action: str) -> None:
        """Neutron's order for an existing binding: 404/400 for what does not exist, 404 for
        what the caller may not see, 403 for what it may see but not change."""
        self.get(ctx, port_id, host)
        if not may_write(ctx):
            raise PolicyNotAuthorized(f"rule:{action}")

    # --- writes

    def create(self, ctx: RequestContext, port_id: str, body: dict[str, Any]) -> dict[str, Any]:
        attrs = parse_create(body, SPEC)
        if not attrs["host"]:
            raise InvalidInput("'host' must name a host")
        profile = orjson.dumps(attrs.get("profile") or {}).decode()
        if len(profile) > PROFILE_MAX:
            raise InvalidInput("binding:profile value too large")
        if not may_write(ctx):
            raise PolicyNotAuthorized("rule:create_port_binding")
        return self.store.write(self._create_tx, ctx, port_id, attrs, profile)

    def _create_tx(
        self, tx: Tx, ctx: RequestContext, port_id: str, attrs: dict[str, Any], profile: str
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "ports", port_id)
        port = _port(tx.conn, ctx, port_id)
        host = attrs["host"]
        if port["binding_host_id"] == host or repo.find(tx.conn, port_id, host) is not None:
            raise NamedConflict(
                "PortBindingAlreadyExists",
                f"Binding for port {port_id} on host {excerpt(host)} already exists.",
            )
        vif_type, details = _bind(tx, port, host)
        if vif_type == binding.FAILED[0]:
            raise NamedConflict(
                "PortBindingError",
                f"Binding for port {port_id} on host {excerpt(host)} could not be created "
                f"or updated: {orjson.loads(details).get(binding.REASON, 'no mechanism')}.",
            )
        row = {
            "port_id": port_id,
            "host": host,
            "vnic_type": attrs.get("vnic_type", "normal"),
            "vif_type": vif_type,
            "vif_details": details,
            "profile": profile,
        }
        repo.insert_row(tx.conn, row)
        tx.updated(Resource.PORT, port_id)  # a binding revises its port, as in Neutron
        return inactive_view(row)

    def activate(self, ctx: RequestContext, port_id: str, host: str) -> dict[str, Any]:
        self._may_write(ctx, port_id, host, "activate")
        return self.store.write(self._activate_tx, ctx, port_id, host)

    def _activate_tx(self, tx: Tx, ctx: RequestContext, port_id: str, host: str) -> dict[str, Any]:
        conn = tx.conn
        locks.for_change(conn, "ports", port_id)
        port = _port(conn, ctx, port_id)
        if port["binding_host_id"] == host:
            raise NamedConflict(
                "PortBindingAlreadyActive",
                f"Binding for port {port_id} on host {excerpt(host)} is already active.",
            )
        chosen = repo.find(conn, port_id, host)
        if chosen is None:
            raise rules.not_found(port_id, host)
        vif_type, details = _bind(tx, port, host)
        repo.delete_row(conn, port_id, host)
        repo.insert_row(  # the previous active binding, kept INACTIVE with its VIF unbound
            conn,
            {
                "port_id": port_id,
                "host": port["binding_host_id"],
                "vnic_type": port["binding_vnic_type"],
                "vif_type": binding.UNBOUND[0],
                "vif_details": binding.UNBOUND[1],
                "profile": port["binding_profile"],
            },
        )
        values = {
            "binding_host_id": host,
            "binding_vnic_type": chosen["vnic_type"],
            "binding_profile": chosen["profile"],
            "binding_vif_type": vif_type,
            "binding_vif_details": details,
            "status": "DOWN",  # until the new host's agent reports the port wired
        }
        tx.updated(Resource.PORT, port_id, values)
        trunk_binding.port_rebound(tx, port_id)  # a trunk's sub-ports follow their parent
        return active_view({**port, **values})

    def delete(self, ctx: RequestContext, port_id: str, host: str) -> None:
        with self.store.read() as conn:
            self._find(conn, ctx, port_id, host)
        if not may_write(ctx):
            if not may_read(ctx):
                raise NotFound("The resource could not be found.")
            raise PolicyNotAuthorized("rule:delete_port_binding")
        self.store.write(self._delete_tx, ctx, port_id, host)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, port_id: str, host: str) -> None:
        conn = tx.conn
        locks.for_change(conn, "ports", port_id)
        port = _port(conn, ctx, port_id)
        if repo.delete_row(conn, port_id, host):
            tx.updated(Resource.PORT, port_id)
            return
        if port["binding_host_id"] != host:
            raise rules.not_found(port_id, host)
        # the active binding: the port is left unbound (Neutron's port without one shows so)
        vif_type, details = binding.UNBOUND
        values = {
            "binding_host_id": "",
            "binding_vif_type": vif_type,
            "binding_vif_details": details,
            "status": "DOWN",
        }
        tx.updated(Resource.PORT, port_id, values)
        trunk_binding.port_rebound(tx, port_id)
