"""Port status reports from the agents: one port, or many in one transaction.

The agent on a port's host reports it wired (``ACTIVE``) or not (``DOWN``). ``set_status``
is one port's report inside a write transaction: the port is row-locked first (PostgreSQL:
a concurrent update or liveness sweep is not lost); a real change bumps its revision and is
recorded (op ``status``: it wakes no host, no host state carries a status); a host of the
port's HA router other than the one it is bound to is answered without a change (a backup
wires it too; the master's report is the one kept).

``report_many`` is the batch an agent sends after a round that changed many statuses (its
first round after a start reports every port: 5,000 HTTP calls and commits before, one
call per ``MAX_BATCH`` now). The batch is validated whole first (any malformed item: 400,
nothing written); then each port is judged alone, in the given order (the agent puts trunk
sub-ports first), and a port that is gone or not bound to the host is answered with its
error in place of its result, the others are written, all in one commit.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import BadRequest, NamedConflict, NotFound, ResourceNotFound
from neutrino.domain.hoststate import VIF_BRIDGE
from neutrino.service import trunk_binding
from neutrino.service.agents import require_agent_role
from neutrino.service.context import RequestContext
from neutrino.store import hostsync as repo
from neutrino.store import locks
from neutrino.store.changes import Op, Resource
from neutrino.store.uow import Store, Tx

__all__ = ["MAX_BATCH", "PORT_STATUSES", "report_many", "set_status", "validated"]

PORT_STATUSES = ("ACTIVE", "DOWN")
MAX_BATCH = 1000


def validated(body: dict[str, Any]) -> tuple[str, str]:
    """(status, host) of one report body, or 400."""
    status, host = body.get("status"), body.get("host")
    if status not in PORT_STATUSES:
        raise BadRequest(f"'status' must be one of {', '.join(PORT_STATUSES)}")
    if not isinstance(host, str) or not host:
        raise BadRequest("'host' must be a non-empty string")
    return status, host


def set_status(tx: Tx, port_id: str, status: str, host: str) -> dict[str, Any]:
    """One port's report in ``tx`` (see the module docstring); raises 404 or 409."""
    locks.for_change(tx.conn, "ports", port_id)  # the revision is built on
    row = repo.port_binding(tx.conn, port_id)
    if row is None:
        raise ResourceNotFound("Port", port_id)
    _project, _network_id, bound_host, current, revision, vif_type = row
    if bound_host != host and repo.hosts_ha_router_of(tx.conn, port_id, host):
        return {"id": port_id, "status": current, "revision_number": revision}
    if bound_host != host:
        raise NamedConflict("PortNotBoundToHost", f"Port {port_id} is not bound to host {host}.")
    if status == "ACTIVE" and vif_type != VIF_BRIDGE:
        raise NamedConflict(
            "PortBindingFailed", f"Port {port_id} has no successful binding on {host}."
        )
    if current != status:
        revision = tx.updated(Resource.PORT, port_id, {"status": status}, Op.STATUS)
        trunk_binding.port_status_changed(tx, port_id)
    return {"id": port_id, "status": status, "revision_number": revision}


def report_many(store: Store, ctx: RequestContext, items: object) -> list[dict[str, Any]]:
    """The batch ``[{"id", "status", "host"}, ...]``: each port's result, or ``{"id",
    "error": {"type", "message"}}`` for a port that is gone or not bound to the host."""
    require_agent_role(ctx, "update_port_status")
    if not isinstance(items, list) or not items:
        raise BadRequest("'ports' must be a non-empty list of {id, status, host}")
    if len(items) > MAX_BATCH:
        raise BadRequest(f"At most {MAX_BATCH} ports per status report.")
    reports = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise BadRequest("Each port must be an object with a non-empty string 'id'.")
        reports.append((item["id"], *validated(item)))

    def tx_fn(tx: Tx) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for port_id, status, host in reports:
            try:
                out.append(set_status(tx, port_id, status, host))
            except (NotFound, NamedConflict) as exc:  # raised before this port's write
                out.append({"id": port_id, "error": {"type": exc.type, "message": str(exc)}})
        return out

    return store.write(tx_fn)
