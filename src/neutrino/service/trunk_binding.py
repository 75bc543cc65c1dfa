"""What a trunk does to its ports, inside the transaction of the change that causes it.

Neutron's trunk driver binds each sub-port to the host of its parent (``binding:host_id`` the
parent's, ``device_owner`` ``trunk:subport``) once the parent is bound, and unsets both when a
sub-port leaves the trunk; the trunk's status follows (``domain.trunks.status``). Here that
happens in the same transaction as the change that moves it, never after a commit:

- a trunk is created, or sub-ports are added: ``sync`` binds the sub-ports to the parent's
  host (or unbinds them while the parent is unbound) and writes the status;
- sub-ports are removed or the trunk deleted: ``release`` unsets them;
- a port's host changes (``service.ports``) or an agent registers (``service.agents``): the
  trunks of that parent, or of that sub-port, or of every parent on that host, are synced.

Every port it changes is a port update in the change log (revision, host wake-ups); a status
change is a trunk update. ``check_port_delete`` is Neutron's rule that a port in a trunk
cannot be deleted (409).
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import NamedConflict
from neutrino.domain import trunks as rules
from neutrino.domain.hoststate import VIF_BRIDGE
from neutrino.service import binding
from neutrino.store import ports as port_repo
from neutrino.store import raw
from neutrino.store import trunks as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Tx


def check_port_delete(conn: Any, port_id: str) -> None:
    trunk_id = repo.trunk_of_subport(conn, port_id)
    if trunk_id is not None:
        raise NamedConflict(
            "PortInUseAsSubPort", f"Port {port_id} is currently a subport for trunk {trunk_id}."
        )
    trunk_id = repo.trunk_of_parent(conn, port_id)
    if trunk_id is not None:
        raise NamedConflict(
            "PortInUseAsTrunkParent",
            f"Port {port_id} is currently a parent port for trunk {trunk_id}.",
        )


def sync(tx: Tx, trunk_id: str) -> str:
    """Bind the trunk's sub-ports where its parent is bound, and write its status."""
    trunk = repo.find(tx.conn, trunk_id)
    if trunk is None:
        return rules.DOWN
    parent = port_repo.get(tx.conn, trunk["port_id"])
    host = parent["binding_host_id"] if parent["binding_vif_type"] == VIF_BRIDGE else ""
    vif_types, wired = [], []
    for port_id, _type, _id in repo.subports_of(tx.conn, [trunk_id]).get(trunk_id, []):
        port = port_repo.get(tx.conn, port_id)
        values: dict[str, Any] = {}
        if port["device_owner"] != rules.SUBPORT_OWNER:
            values["device_owner"] = rules.SUBPORT_OWNER
        if port["binding_host_id"] != host or (host and port["binding_vif_type"] != VIF_BRIDGE):
            vif, details = binding.bind(tx, port_id, port["network_id"], host, subport=True)
            values.update(binding_host_id=host, binding_vif_type=vif, binding_vif_details=details)
            if host != port["binding_host_id"]:
                values["status"] = "DOWN"
        changed = {k: v for k, v in values.items() if port[k] != v}
        if changed:
            tx.updated(Resource.PORT, port_id, changed)
        vif_types.append(values.get("binding_vif_type", port["binding_vif_type"]))
        wired.append(values.get("status", port["status"]) == "ACTIVE")
    parent_wired = bool(host) and parent["status"] == "ACTIVE"
    status = rules.status(bool(host), vif_types, parent_wired=parent_wired, subports_wired=wired)
    if status != trunk["status"]:
        tx.updated(Resource.TRUNK, trunk_id, {"status": status})
    return status


def release(tx: Tx, port_ids: list[str]) -> None:
    """Sub-ports leaving a trunk: no host, no owner, unbound (Neutron's driver does the
    same)."""
    for port_id in port_ids:
        port = port_repo.find(tx.conn, port_id)
        if port is None:
            continue
        values = {
            "binding_host_id": "",
            "binding_vif_type": binding.UNBOUND[0],
            "binding_vif_details": binding.UNBOUND[1],
            "status": "DOWN",
        }
        if port["device_owner"] == rules.SUBPORT_OWNER:
            values["device_owner"] = ""
        changed = {k: v for k, v in values.items() if port[k] != v}
        if changed:
            tx.updated(Resource.PORT, port_id, changed)


def port_status_changed(tx: Tx, port_id: str) -> None:
    """An agent reported a port wired or unwired: a trunk it parents or belongs to may change
    between ``ACTIVE`` and ``DEGRADED`` (``sync`` rebinds nothing that is bound already)."""
    port_rebound(tx, port_id)


def port_rebound(tx: Tx, port_id: str) -> None:
    """A port's binding changed: sync the trunk it parents or belongs to, if any."""
    trunk_id = repo.trunk_of_parent(tx.conn, port_id) or repo.trunk_of_subport(tx.conn, port_id)
    if trunk_id is not None:
        sync(tx, trunk_id)


def host_rebound(tx: Tx, host: str) -> None:
    """The host's agent registered (its failed ports were retried): sync its trunks."""
    found = raw.rows(
        tx.conn,
        "SELECT trunks.id FROM trunks JOIN ports ON ports.id = trunks.port_id "
        "WHERE ports.binding_host_id = ? ORDER BY trunks.id",
        (host,),
    )
    for (trunk_id,) in found:
        sync(tx, trunk_id)
