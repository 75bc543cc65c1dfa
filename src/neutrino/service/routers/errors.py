"""The router API's named errors, worded as Neutron words them.

Owns the error *types and messages* every router module raises, so that one wording lives in
one place: ``BadRequest`` ("Bad router request: …"), ``InvalidRoutes``, and the 404s whose
Neutron type is not the generic ``…NotFound`` of a resource. Nothing here touches the store.
"""

from __future__ import annotations

from neutrino.common.errors import NamedBadRequest, NamedNotFound


class NotFoundRouterInterface(NamedNotFound):
    def __init__(self, router_id: str, port_id: str) -> None:
        super().__init__(
            "RouterInterfaceNotFound",
            f"Router {router_id} does not have an interface with id {port_id}",
        )


def bad(message: str) -> NamedBadRequest:
    return NamedBadRequest("BadRequest", f"Bad router request: {message}.")


def invalid_routes(routes: list[dict[str, str]], reason: str) -> NamedBadRequest:
    return NamedBadRequest("InvalidRoutes", f"Invalid format for routes: {routes}, {reason}.")
