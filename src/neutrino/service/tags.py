"""The tag sub-resource (``/v2.0/<collection>/<id>/tags``) for networks, subnets, ports,
routers, floating IPs, security groups, subnet pools and trunks.

Visibility and ownership come from the resource itself: the caller passes the resource as it
sees it (``get`` of the resource's service), so a project cannot tag what it cannot see.

Races: that resource was read before the write began, so each write first bumps the
resource's revision (which row-locks it until commit, and says whether it still exists): a
resource deleted meanwhile answers 404 and keeps no orphan tags; concurrent tag writes of one
resource are serialized by that row lock (PostgreSQL; SQLite serializes writers anyway).
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import (
    BadRequest,
    InvalidInput,
    NotFound,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.domain.attributes import Invalid, tag_list
from neutrino.domain.attributes import tag as valid_tag
from neutrino.service.context import RequestContext
from neutrino.store import tags as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx

RESOURCES = {
    "networks": Resource.NETWORK,
    "subnets": Resource.SUBNET,
    "ports": Resource.PORT,
    "routers": Resource.ROUTER,
    "floatingips": Resource.FLOATINGIP,
    "security-groups": Resource.SECURITY_GROUP,
    "subnetpools": Resource.SUBNETPOOL,
    "qos/policies": Resource.QOS_POLICY,
    "trunks": Resource.TRUNK,
    "network_segment_ranges": Resource.NETWORK_SEGMENT_RANGE,
}  # collection -> the tagged resource
KINDS = {
    "networks": "Network",
    "subnets": "Subnet",
    "ports": "Port",
    "routers": "Router",
    "floatingips": "Floating IP",
    "security-groups": "Security group",
    "subnetpools": "Subnetpool",
    "qos/policies": "QoS policy",
    "trunks": "Trunk",
    "network_segment_ranges": "Network Segment Range",
}  # collection -> the kind named by a 404


def _resource_type(kind: str) -> str:
    """The tags' ``resource_type``: what the resource's own create writes."""
    return {"security-groups": "security_groups", "qos/policies": "qos_policies"}.get(kind, kind)


def _check_tag(value: Any) -> str:
    """The rule a create body's tags follow too (``attributes.tag``)."""
    try:
        return valid_tag(value)
    except Invalid:
        raise BadRequest(f"Invalid input for tags. Reason: '{value}' is not a valid tag.") from None


def _touched(tx: Tx, kind: str, resource: dict[str, Any]) -> None:
    """A tag change is a change of the resource: revision and updated_at move (as Neutron's
    standard-attr revisions do) and the change log records it. Called first in every write:
    the resource's row stays locked until commit."""
    if tx.updated(RESOURCES[kind], resource["id"]) is None:
        raise ResourceNotFound(KINDS.get(kind, kind), resource["id"])


class TagService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _owner_check(self, ctx: RequestContext, resource: dict[str, Any]) -> None:
        ctx.require_write("update_tags")
        if not ctx.owns(resource["project_id"]):
            raise PolicyNotAuthorized("rule:update_tags")

    def replace(
        self, ctx: RequestContext, kind: str, resource: dict[str, Any], tags: Any
    ) -> list[str]:
        self._owner_check(ctx, resource)
        if not isinstance(tags, list):
            raise BadRequest("Invalid input for tags. Reason: not a list.")
        clean = sorted({_check_tag(t) for t in tags})
        self.store.write(self._replace_tx, kind, resource, clean)
        return clean

    def _replace_tx(self, tx: Tx, kind: str, resource: dict[str, Any], tags: list[str]) -> None:
        _touched(tx, kind, resource)
        repo.replace_tags(tx.conn, _resource_type(kind), resource["id"], tags)

    def create(
        self, ctx: RequestContext, kind: str, resource: dict[str, Any], tags: Any
    ) -> list[str]:
        """``POST .../tags`` (tag-creation): add the tags the resource lacks, keep the others;
        idempotent. The list must hold unique tags, as Neutron's validation wants."""
        self._owner_check(ctx, resource)
        try:
            wanted = tag_list(tags)
        except Invalid as exc:  # Neutron's ``validate_tags``: an InvalidInput
            raise InvalidInput(str(exc)) from None

        def tx_fn(tx: Tx) -> None:
            _touched(tx, kind, resource)
            for one in wanted:
                repo.add_tag(tx.conn, _resource_type(kind), resource["id"], one)

        self.store.write(tx_fn)
        return wanted

    def add(self, ctx: RequestContext, kind: str, resource: dict[str, Any], tag: str) -> None:
        self._owner_check(ctx, resource)
        _check_tag(tag)

        def tx_fn(tx: Tx) -> None:
            _touched(tx, kind, resource)
            repo.add_tag(tx.conn, _resource_type(kind), resource["id"], tag)

        self.store.write(tx_fn)

    def remove(
        self, ctx: RequestContext, kind: str, resource: dict[str, Any], tag: str | None
    ) -> None:
        self._owner_check(ctx, resource)

        def tx_fn(tx: Tx) -> None:
            _touched(tx, kind, resource)
            if tag is None:
                repo.delete_all(tx.conn, resource["id"])
            elif not repo.remove_tag(tx.conn, resource["id"], tag):
                raise NotFound(
                    f"Tag {tag} could not be found for {RESOURCES[kind].type} {resource['id']}."
                )

        self.store.write(tx_fn)
