"""The choice of a network segment: type, physical network and id, from the request and the
configured ranges (``domain.segments.SegmentConfig``), and its reservation.

Used by a network create (its ``provider:*`` attributes, or each of its multi-provider
``segments``) and by a segment create (``/v2.0/segments``). Rules: no type given means the
tenant type (VXLAN by default; ``local`` means no segment); ``flat`` needs a physical network
that is configured and not in use; ``vlan`` a configured physical network (the first one when
none is named) and an id in 1-4094; ``vxlan`` no physical network and a VNI in 1-2^24-1.
An id nobody named is the lowest free one of the network segment ranges that apply to the
network's project: its own ranges first, then the shared ones (the configured defaults among
them) minus other projects' own (``service.segment_ranges``); none free: 409
``NoNetworkAvailable`` (Neutron's type: it answers 503). A VLAN physical network is known when
the configuration names it or a range is on it.

``reserve`` inserts the ``segment_allocations`` row: its primary key (type, physnet, id) makes
two segments on one wire impossible even under concurrent creates (the loser retries and then
sees the segment taken: 409).
"""

from __future__ import annotations

from typing import Any

from neutrino.common.errors import InvalidInput, NamedConflict
from neutrino.domain import segments as seg
from neutrino.store import networks as repo
from neutrino.store import segment_ranges as range_repo
from neutrino.store.uow import Tx

Segment = tuple[str | None, str | None, int | None]  # (network_type, physnet, segmentation_id)


class SegmentAllocator:
    def __init__(self, config: seg.SegmentConfig) -> None:
        self.config = config

    def reserve(self, tx: Tx, network_id: str, segment: Segment) -> None:
        net_type, physnet, seg_id = segment
        if net_type is not None:
            repo.insert_segment(tx.conn, network_id, net_type, physnet or "", seg_id or 0)

    def choose(
        self,
        tx: Tx,
        attrs: dict[str, Any],
        chosen: tuple[Segment, ...] = (),
        project: str = "",
    ) -> Segment:
        """The segment ``provider:*`` attributes ask for (see the module docstring);
        ``chosen``: segments this request already took (not reserved yet); ``project``: the
        network's, whose ranges apply."""
        net_type = attrs.get("provider:network_type")
        physnet = attrs.get("provider:physical_network")
        seg_id = attrs.get("provider:segmentation_id")
        cfg = self.config
        if net_type is None:
            if physnet is not None or seg_id is not None:
                raise InvalidInput("provider:network_type required")
            net_type = cfg.tenant_network_type
            if net_type == "local":
                return None, None, None
        if net_type == "flat":
            if physnet is None:
                raise InvalidInput("physical_network required for flat provider network")
            if seg_id is not None:
                raise InvalidInput("segmentation_id specified for flat provider network")
            if not cfg.flat_allowed(physnet):
                raise InvalidInput(
                    f"physical_network '{physnet}' unknown for flat provider network"
                )
            if repo.segment_owner(tx.conn, "flat", physnet, 0):
                raise NamedConflict(
                    "FlatNetworkInUse",
                    f"Unable to create the flat network. Physical network {physnet} is in use.",
                )
            return "flat", physnet, None
        if net_type == "vlan":
            known = list(cfg.vlan_ranges)
            known += sorted({r["physical_network"] for r in range_repo.of_type(tx.conn, "vlan")})
            if physnet is None:
                if not known:
                    raise InvalidInput("physical_network required for VLAN provider network")
                if seg_id is not None:
                    physnet = known[0]
            elif physnet not in known:
                raise InvalidInput(
                    f"physical_network '{physnet}' unknown for VLAN provider network"
                )
            if seg_id is not None:
                assert physnet is not None
                return "vlan", physnet, self._named_id(tx, "vlan", physnet, seg_id)
            physnets = [physnet] if physnet is not None else list(dict.fromkeys(known))
            return self._pick_id(tx, "vlan", physnets, project, chosen)
        if net_type == "vxlan":
            if physnet is not None:
                raise InvalidInput("provider:physical_network specified for vxlan network")
            if seg_id is not None:
                return "vxlan", None, self._named_id(tx, "vxlan", "", seg_id)
            return self._pick_id(tx, "vxlan", [""], project, chosen)
        raise InvalidInput(f"network_type value '{net_type}' not supported")

    def _named_id(self, tx: Tx, net_type: str, physnet: str, wanted: int) -> int:
        maximum = seg.MAX_ID[net_type]
        if not 1 <= wanted <= maximum:
            raise InvalidInput(f"segmentation_id out of range (1 through {maximum})")
        if repo.segment_owner(tx.conn, net_type, physnet, wanted):
            raise NamedConflict(
                "VlanIdInUse" if net_type == "vlan" else "TunnelIdInUse",
                f"Unable to create the network. The {net_type} segment {wanted} is in use.",
            )
        return wanted

    def _pick_id(
        self,
        tx: Tx,
        net_type: str,
        physnets: list[str],
        project: str,
        chosen: tuple[Segment, ...],
    ) -> Segment:
        """The lowest free id of the project's ranges, then of the shared ones, trying the
        physical networks in order within each (see the module docstring)."""
        candidates = []
        for physnet in physnets:
            ranges = [
                seg.SegmentRange(r["minimum"], r["maximum"], r["shared"], r["project_id"])
                for r in range_repo.of_type(tx.conn, net_type, physnet)
            ]
            own, shared = seg.tenant_intervals(ranges, project)
            used = repo.used_segment_ids(tx.conn, net_type, physnet)
            used |= {i for t, p, i in chosen if t == net_type and (p or "") == physnet and i}
            candidates.append((physnet, own, shared, used))
        for phase in (1, 2):
            for physnet, own, shared, used in candidates:
                free = seg.first_free(own if phase == 1 else shared, used)
                if free is not None:
                    return net_type, (physnet or None), free
        raise NamedConflict(
            "NoNetworkAvailable",
            "Unable to create the network. No tenant network is available for allocation.",
        )
