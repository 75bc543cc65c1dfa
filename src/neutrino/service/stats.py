"""What the controller's metrics report about its data: the change-log revision, the agents
alive (heartbeat within ``AGENT_DOWN_TIME``, by type) and the ports by status."""

from __future__ import annotations

from dataclasses import dataclass

from neutrino.common import clock
from neutrino.service.binding import AGENT_DOWN_TIME
from neutrino.store import changelog
from neutrino.store import stats as repo
from neutrino.store.uow import Store

__all__ = ["ControllerCounts", "controller_counts"]


@dataclass(frozen=True)
class ControllerCounts:
    revision: int
    agents_alive: dict[str, int]
    ports: dict[str, int]


def controller_counts(store: Store) -> ControllerCounts:
    with store.read() as conn:
        return ControllerCounts(
            revision=changelog.latest(conn),
            agents_alive=repo.agents_alive(conn, clock.now() - AGENT_DOWN_TIME),
            ports=repo.port_statuses(conn),
        )
