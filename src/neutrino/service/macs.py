"""Choosing a MAC address for a new port: random under the base MAC, unused on its network.

A random MAC is tried ``MAC_ATTEMPTS`` times before answering 409
``MacAddressGenerationFailure``; two transactions picking the same MAC concurrently collide on
the (network_id, mac_address) unique key and the store retries the loser.
"""

from __future__ import annotations

from neutrino.common.errors import NamedConflict
from neutrino.domain.macs import random_mac
from neutrino.store import ports as port_repo
from neutrino.store.uow import Tx

MAC_ATTEMPTS = 16


def free_mac(tx: Tx, network_id: str, base_mac: str) -> str:
    for _ in range(MAC_ATTEMPTS):
        candidate = random_mac(base_mac)
        if not port_repo.mac_in_use(tx.conn, network_id, candidate):
            return candidate
    raise NamedConflict(
        "MacAddressGenerationFailure", f"Unable to generate unique mac on network {network_id}."
    )
