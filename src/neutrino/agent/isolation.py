"""Finding the culprit when an apply fails: split the change set, freeze the bad object.

``L2Manager.apply`` stops at the first kernel error, so one bad object (a ``tap…`` that is
not a veth, a device the kernel refuses) would keep every other change from landing and the
loop from converging. ``apply_isolating`` does what Felix does with a failed batch: it splits.

Objects are grouped by a *key*: a bridge name for a network's bridge, its VXLAN device and
their FDB/neighbour entries; a device name for an attachment (a port's tap, a flat uplink).
"Freezing" a key replaces its desired objects with what the kernel has now, which the manager
sees as "nothing to do" — so a frozen key is neither built nor torn down, and traffic through
it keeps flowing. Freezing a bridge freezes the attachments to it (they cannot be enslaved to a
bridge that is not built).

Algorithm: after a non-retryable failure, the keys whose desired objects differ from the
kernel are bisected — apply with one half unfrozen and everything untested frozen; a half that
applies is done, a failing half is split again down to single keys, which are the culprits.
Finally the whole state is applied with only the culprits frozen. Retryable errors (``Busy``)
are never isolated: they propagate so the loop backs off and retries the whole apply.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Hashable, Iterable

from neutrino.agent.dataplane import ApplyReport, DataplaneError, L2Kernel, L2Manager
from neutrino.agent.model import (
    BRIDGE_PREFIX,
    OWNED_PREFIXES,
    VXLAN_PREFIX,
    AttachmentSpec,
    BridgeSpec,
    L2State,
    VxlanSpec,
)

__all__ = ["apply_isolating", "read_current"]

log = logging.getLogger(__name__)


def read_current(kernel: L2Kernel, desired: L2State) -> L2State:
    """What the kernel has now, in ``L2State`` terms (owned devices plus desired uplinks)."""
    links = kernel.list_links(OWNED_PREFIXES)
    bridges = {
        n: BridgeSpec(n, ln.mtu)
        for n, ln in links.items()
        if n.startswith(BRIDGE_PREFIX) and ln.kind == "bridge"
    }
    vxlans: dict[str, VxlanSpec] = {}
    for name, ln in links.items():
        if name.startswith(VXLAN_PREFIX) and ln.vxlan is not None:
            vni, local_ip, dev, _, _ = ln.vxlan
            vxlans[name] = VxlanSpec(name, vni, local_ip, dev or "", ln.mtu, ln.master or "")
    attachments = {
        n: AttachmentSpec(n, ln.master, ln.mtu)
        for n, ln in links.items()
        if ln.master and ln.master.startswith(BRIDGE_PREFIX) and not n.startswith(VXLAN_PREFIX)
    }
    for name in desired.attachments:
        if name not in attachments and not name.startswith(OWNED_PREFIXES):
            uplink = kernel.get_link(name)
            if uplink is not None and uplink.master:
                attachments[name] = AttachmentSpec(name, uplink.master, None)
    fdb = frozenset(e for v in vxlans for e in kernel.list_fdb(v))
    neigh = frozenset(e for v in vxlans for e in kernel.list_neigh(v))
    return L2State(bridges=bridges, vxlans=vxlans, attachments=attachments, fdb=fdb, neigh=neigh)


def _groups(state: L2State) -> dict[str, set[Hashable]]:
    """Objects of ``state`` by key (see the module docstring)."""
    out: dict[str, set[Hashable]] = defaultdict(set)
    key_of_dev: dict[str, str] = {}
    for br in state.bridges.values():
        out[br.name].add(br)
    for vx in state.vxlans.values():
        key_of_dev[vx.name] = vx.bridge or vx.name
        out[key_of_dev[vx.name]].add(vx)
    for att in state.attachments.values():
        out[att.name].add((att.name, att.bridge, att.mtu))
    for fdb in state.fdb:
        out[key_of_dev.get(fdb.device, fdb.device)].add(fdb)
    for neigh in state.neigh:
        out[key_of_dev.get(neigh.device, neigh.device)].add(neigh)
    return out


def changed_keys(desired: L2State, current: L2State) -> set[str]:
    want, have = _groups(desired), _groups(current)
    return {k for k in want.keys() | have.keys() if want.get(k) != have.get(k)}


def freeze(desired: L2State, current: L2State, keys: Iterable[str]) -> L2State:
    """``desired`` with the objects of ``keys`` (and attachments to frozen bridges) replaced
    by the kernel's current ones."""
    frozen = set(keys)
    frozen |= {
        a.name
        for a in (*desired.attachments.values(), *current.attachments.values())
        if a.bridge in frozen
    }

    def vx_key(vx: VxlanSpec) -> str:
        return vx.bridge or vx.name

    dev_key = {vx.name: vx_key(vx) for vx in (*current.vxlans.values(), *desired.vxlans.values())}

    def pick(d: dict, c: dict, key) -> dict:  # type: ignore[no-untyped-def, type-arg]
        return {n: s for n, s in d.items() if key(s) not in frozen} | {
            n: s for n, s in c.items() if key(s) in frozen
        }

    def entries(d: frozenset, c: frozenset) -> frozenset:  # type: ignore[type-arg]
        return frozenset(
            {e for e in d if dev_key.get(e.device, e.device) not in frozen}
            | {e for e in c if dev_key.get(e.device, e.device) in frozen}
        )

    return L2State(
        bridges=pick(desired.bridges, current.bridges, lambda s: s.name),
        vxlans=pick(desired.vxlans, current.vxlans, vx_key),
        attachments=pick(desired.attachments, current.attachments, lambda s: s.name),
        fdb=entries(desired.fdb, current.fdb),
        neigh=entries(desired.neigh, current.neigh),
    )


def apply_isolating(
    manager: L2Manager,
    desired: L2State,
    applied: L2State | None = None,
    touched: set[str] | None = None,
) -> tuple[ApplyReport, set[str]]:
    """Apply ``desired`` (from ``applied``, with the devices ``touched`` since:
    ``L2Manager.apply``); on a non-retryable error, freeze the culprit keys and apply the
    rest, reading the kernel whole. Returns the final report and the culprits (empty when
    everything applied)."""
    try:
        return manager.apply(desired, applied, touched), set()
    except DataplaneError as exc:
        if exc.retryable:
            raise
        log.warning("apply failed (%s); isolating the culprit", exc)
    kernel = manager.kernel
    pending = changed_keys(desired, read_current(kernel, desired))
    bad: set[str] = set()

    def attempt(unfrozen: list[str]) -> bool:
        current = read_current(kernel, desired)
        try:
            manager.apply(freeze(desired, current, (pending - set(unfrozen)) | bad))
        except DataplaneError as exc:
            if exc.retryable:
                raise
            if len(unfrozen) == 1:
                log.error("cannot apply %s: %s; frozen until the next round", unfrozen[0], exc)
            return False
        return True

    def search(cands: list[str]) -> None:
        if len(cands) > 1:
            mid = len(cands) // 2
            for half in (cands[:mid], cands[mid:]):
                if attempt(half):
                    pending.difference_update(half)
                else:
                    search(half)
        elif cands:
            bad.add(cands[0])
            pending.discard(cands[0])

    ordered = sorted(pending)
    if len(ordered) == 1 and not attempt(ordered):
        bad.update(ordered)
        pending.clear()
    else:
        search(ordered)
    return manager.apply(freeze(desired, read_current(kernel, desired), bad)), bad
