"""The router's own ports: creating and deleting the ports a router owns.

A router's ports are ordinary ports on its networks: an interface is a
``network:router_interface`` port, the gateway a ``network:router_gateway`` port. This module
owns their life cycle, and nothing else creates or deletes them:

- :meth:`RouterPorts.create` inserts the port with a MAC unused on its network, allocates its
  fixed IPs through :mod:`neutrino.service.ipam`, links it to the router (``router_ports``) and
  records the change, all inside the caller's transaction, so a failed attach leaves nothing;
  on PostgreSQL it first locks the network row (``store.locks.for_change``), as port
  creation elsewhere does;
- :meth:`RouterPorts.delete` releases the IPs, drops the port and its tags, records the change.

MACs come from ``service.macs.free_mac``.
"""

from __future__ import annotations

from typing import Any

from neutrino.common.settings import Settings
from neutrino.service import ipam, system_ports
from neutrino.service.l3_ha import HaConfig
from neutrino.store import locks
from neutrino.store import ports as port_repo
from neutrino.store import routers as repo
from neutrino.store import tags as tag_repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx


class RouterPorts:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.base_mac = settings.base_mac
        self.window = settings.ipam_window
        self.ha = HaConfig(
            default_ha=settings.l3_ha,
            max_agents=settings.max_l3_agents_per_router,
            base_mac=settings.base_mac,
            window=settings.ipam_window,
        )

    def create(
        self,
        tx: Tx,
        network_id: str,
        project: str,
        router_id: str,
        owner: str,
        requested: list[dict[str, Any]] | None,
    ) -> tuple[str, list[dict[str, str]]]:
        """Create a router-owned port; return its id and its allocated fixed IPs."""
        conn = tx.conn
        locks.for_change(conn, "networks", network_id)
        port = system_ports.insert(
            tx, network_id, self.base_mac, device_id=router_id, device_owner=owner, project=project
        )
        port_id, mac = port["id"], port["mac_address"]
        fixed = ipam.allocate(
            tx, network_id, requested, mac, port_id=port_id, device_owner=owner, window=self.window
        )
        repo.attach_port(conn, router_id, port_id, owner)
        tx.created(Resource.PORT, port_id)
        return port_id, fixed

    @staticmethod
    def delete(tx: Tx, port: Any) -> None:
        tx.deleted(Resource.PORT, port)
        ipam.release(tx, port["id"])
        port_repo.delete_row(tx.conn, port["id"])
        tag_repo.delete_all(tx.conn, port["id"])
