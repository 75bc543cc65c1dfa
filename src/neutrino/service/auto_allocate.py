"""Auto-allocated topology ("get me a network": ``/v2.0/auto-allocated-topology/{project}``,
extension ``auto-allocated-topology``).

``GET`` answers the project's network, building it on the first call: a network
``auto_allocated_network``, a subnet from each default subnet pool the caller sees
(``auto_allocated_subnet_v4``/``_v6``, the pools' default prefix length) and a router
``auto_allocated_router`` with its gateway on the default external network and an interface
on each subnet. ``?fields=dry-run`` only checks the prerequisites (``{"id": "dry-run=pass"}``);
any other ``fields`` is a 400. ``DELETE`` removes what the build made (a router or network the
project deleted by hand is skipped) and answers 204 even when there is nothing.

Neutron's rules: the project is the caller's (``None`` in the path means the caller's; another
project needs an admin: 403 ``NotAuthorized``); a reader may ``GET`` (Neutron's policy) but
not ``DELETE`` (403 ``PolicyNotAuthorized``). Missing prerequisites are 409
``AutoAllocationFailure``: no default external network ("No default router:external
network"), no default pool ("No default subnetpools defined" on a dry run, "Unable to provide
project private network" on a build, like a subnet that cannot be carved), a router that
cannot be made ("Unable to provide external connectivity").

Idempotent and race-safe: the whole build is one transaction ending with the insert of the
project's ``auto_allocated_topologies`` row (its primary key). Two first calls at once both
build; the loser's insert fails, its transaction (and everything it made) is rolled back and
run again, and then answers the winner's network. A failed build leaves nothing behind, so
Neutron's clean-up of partial topologies has no counterpart here.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from neutrino.common.errors import BadRequest, NamedConflict, NamedForbidden, NotFound
from neutrino.service.context import RequestContext
from neutrino.service.networks import NetworkService
from neutrino.service.rbac_objects import visible
from neutrino.service.routers import interfaces
from neutrino.service.routers.service import RouterService
from neutrino.service.subnets import SubnetService
from neutrino.store import auto_allocate as repo
from neutrino.store import locks
from neutrino.store import networks as network_repo
from neutrino.store import subnetpools as pool_repo
from neutrino.store.uow import Store, Tx

DRY_RUN = "dry-run"
NETWORK_NAME = "auto_allocated_network"
ROUTER_NAME = "auto_allocated_router"


def failure(reason: str) -> NamedConflict:
    return NamedConflict("AutoAllocationFailure", f"Deployment error: {reason}.")


def response(network_id: str, project: str) -> dict[str, Any]:
    return {"id": network_id, "tenant_id": project, "project_id": project}


class AutoAllocateService:
    def __init__(
        self,
        store: Store,
        networks: NetworkService,
        subnets: SubnetService,
        routers: RouterService,
    ) -> None:
        self.store = store
        self.networks = networks
        self.subnets = subnets
        self.routers = routers

    @staticmethod
    def _project(ctx: RequestContext, project: str) -> str:
        if project == "None":  # a client that had no project to name: the caller's
            project = ctx.project_id
        if not ctx.is_admin and project != ctx.project_id:
            raise NamedForbidden("NotAuthorized", "Not authorized.")
        return project

    def get(self, ctx: RequestContext, project: str, fields: list[str]) -> dict[str, Any]:
        project = self._project(ctx, project)
        if DRY_RUN in fields:
            with self.store.read() as conn:
                self._external(conn)
                if not self._pools(conn, ctx):
                    raise failure("No default subnetpools defined")
            return {"id": "dry-run=pass", "tenant_id": project, "project_id": project}
        if fields:
            raise BadRequest("Bad auto_allocate request: Unrecognized field.")
        with self.store.read() as conn:
            found = repo.find(conn, project)
        if found is not None:
            return response(found["network_id"], project)
        return self.store.write(self._build_tx, ctx, project)

    @staticmethod
    def _external(conn: Any) -> str:
        external = network_repo.default_external(conn)
        if external is None:
            raise failure("No default router:external network")
        return external

    @staticmethod
    def _pools(conn: Any, ctx: RequestContext) -> list[Any]:
        found = [pool_repo.default_pool(conn, version) for version in (4, 6)]
        return [p for p in found if p is not None and visible(conn, ctx, p)]

    def _build_tx(self, tx: Tx, ctx: RequestContext, project: str) -> dict[str, Any]:
        found = repo.find(tx.conn, project)
        if found is not None:  # a concurrent build won, or this is its retry
            return response(found["network_id"], project)
        external = self._external(tx.conn)
        try:
            pools = self._pools(tx.conn, ctx)
            if not pools:
                raise NotFound("No default subnet pool")
            network = self.networks.create_tx(
                tx, ctx, {"name": NETWORK_NAME, "project_id": project, "shared": False}
            )
            subnets = [
                self.subnets.create_tx(
                    tx,
                    ctx,
                    {
                        "name": f"auto_allocated_subnet_v{pool['ip_version']}",
                        "network_id": network,
                        "project_id": project,
                        "ip_version": pool["ip_version"],
                        "subnetpool_id": pool["id"],
                    },
                )
                for pool in pools
            ]
        except (BadRequest, NotFound):
            raise failure("Unable to provide project private network") from None
        try:
            router = self.routers.create_tx(
                tx,
                ctx,
                {
                    "name": ROUTER_NAME,
                    "project_id": project,
                    "admin_state_up": True,
                    "external_gateway_info": {"network_id": external},
                },
            )
            for subnet in subnets:
                interfaces.add_tx(tx, ctx, self.routers.ports, router, None, subnet)
        except BadRequest:
            raise failure("Unable to provide external connectivity") from None
        repo.insert_row(tx.conn, project, network, router)
        return response(network, project)

    def delete(self, ctx: RequestContext, project: str) -> None:
        project = self._project(ctx, project)
        ctx.require_write("delete_auto_allocated_topology")  # readers may only look
        with self.store.read() as conn:
            found = repo.find(conn, project)
        if found is None:
            return
        self.store.write(self._delete_tx, ctx, project)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, project: str) -> None:
        locks.key(tx.conn, f"auto-allocated-topology:{project}")
        found = repo.find(tx.conn, project)
        if found is None:  # a concurrent delete did it
            return
        router, network = found["router_id"], found["network_id"]
        if router is not None:
            for subnet in network_repo.subnet_ids(tx.conn, [network]).get(network, []):
                with suppress(NotFound):  # the project removed it by hand: nothing written
                    interfaces.remove_tx(tx, ctx, self.routers.ports, router, None, subnet)
            self.routers.delete_tx(tx, ctx, router)
        self.networks.delete_tx(tx, ctx, network)
