"""The IPAM floor (service/ipam.py) is a per-process hint: "below this address the pools
were full". Another server can free an address this process never hears of; only the change
log tells it, and then the floor is ignored. These tests pin that: with ``ipam_window`` 1 the
pick is the lowest free address, so a freed low address is reused at once when the release
is in the log, and (the control that shows the hint is really in use) skipped over when a
write frees it without logging, as a buggy write path would.
"""

from __future__ import annotations

import pytest

from neutrino.common.settings import Settings
from neutrino.store import raw
from neutrino.store.uow import Store, Tx
from tests.conftest import Caller


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"ipam_window": 1})


def _address(port: dict[str, object]) -> str:
    fixed = port["fixed_ips"]
    assert isinstance(fixed, list) and len(fixed) == 1
    return str(fixed[0]["ip_address"])


def _delete_elsewhere(store: Store, port: dict[str, object], log: bool) -> None:
    """Delete a port as another API server would: rows gone, this process's floor untouched."""

    def write(tx: Tx) -> None:
        raw.run(tx.conn, "DELETE FROM ip_allocations WHERE port_id = ?", (port["id"],))
        raw.run(tx.conn, "DELETE FROM ports WHERE id = ?", (port["id"],))
        if log:
            tx._record(
                "port", str(port["id"]), "delete", str(port["project_id"]), str(port["network_id"])
            )

    store.write(write)


@pytest.mark.parametrize("logged", [True, False])
def test_an_address_freed_by_another_server_is_reused_when_the_log_says_so(
    api: Caller, store: Store, logged: bool
) -> None:
    net = api.network()
    api.subnet(net["id"], "192.0.2.0/28")
    first, *_ = [api.port(net["id"]) for _ in range(3)]
    assert _address(first) == "192.0.2.2"
    _delete_elsewhere(store, first, log=logged)
    again = _address(api.port(net["id"]))
    # logged: the floor (at .5) is ignored and .2 is found; unlogged: the hint is trusted
    assert again == ("192.0.2.2" if logged else "192.0.2.5")
