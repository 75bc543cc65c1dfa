"""The port views cache (service/port_views.py) is invalidated by the change log only.

A port's row is changed behind the API's back, as another API server would, and the next
list must show it exactly when the change log says so: a ``port`` entry drops that port, an
entry of a type not known to be neutral drops everything, a neutral one (``network``) drops
nothing. The unlogged cases are the controls showing the list really is served from the cache.
"""

from __future__ import annotations

import pytest

from neutrino.store import raw
from neutrino.store.uow import Store, Tx
from tests.conftest import Caller


def _rename_elsewhere(
    store: Store, port: dict[str, str], name: str, logged: tuple[str, str] | None
) -> None:
    def write(tx: Tx) -> None:
        raw.run(tx.conn, "UPDATE ports SET name = ? WHERE id = ?", (name, port["id"]))
        if logged is not None:
            tx._record(logged[0], logged[1], "update", port["project_id"], port["network_id"])

    store.write(write)


def _names(api: Caller) -> dict[str, str]:
    return {p["id"]: p["name"] for p in api.get("/v2.0/ports").json()["ports"]}


@pytest.mark.parametrize(
    "entry, seen",
    [
        ("port", True),  # that port is dropped from the cache and rendered again
        ("floatingip", True),  # not known to leave port views alone: everything is dropped
        ("network", False),  # neutral: the cached view stays (the control that it is cached)
        (None, False),  # a write that forgets to log: stale, which is why it must log
    ],
)
def test_a_port_changed_elsewhere_is_listed_anew_when_the_log_says_so(
    api: Caller, store: Store, entry: str | None, seen: bool
) -> None:
    net = api.network()
    port = api.port(net["id"], name="before")
    other = api.port(net["id"], name="other")
    assert _names(api) == {port["id"]: "before", other["id"]: "other"}  # cached now
    logged = None
    if entry is not None:
        logged = (entry, port["id"] if entry == "port" else net["id"])
    _rename_elsewhere(store, port, "after", logged)
    assert _names(api)[port["id"]] == ("after" if seen else "before")
    assert api.get(f"/v2.0/ports/{port['id']}").json()["port"]["name"] == "after"  # the truth
