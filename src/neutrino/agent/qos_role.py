"""The QoS role: bandwidth limits on the host's port devices (``qos_calc`` → ``dataplane.qos``),
the DSCP marks of what VMs send (``dataplane.dscp``), and on an L3 host the floating IPs'
limits in its routers' namespaces (``dataplane.qos_fip``), after the L3 role made them.

It registers no agent of its own: the L2 agent's ``configurations`` carry the rule types it
enforces (``qos_calc.configurations``), which is what the controller's
``/v2.0/qos/rule-types`` and its refusal of unsupported rules read. It runs after the other
roles, on the taps L2 found (a port whose tap is not plugged yet waits for the link watcher's
next round); a device or router the kernel refused is kept with its error and retried when
retryable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from neutrino.agent.dataplane.base import DataplaneError
from neutrino.agent.qos_calc import (
    PortShaping,
    QosCalc,
    RouterShaping,
    desired_fip_shaping,
)
from neutrino.agent.roles import KeyedRole, Round, log_failures

log = logging.getLogger(__name__)


class QosApplier(Protocol):
    """The QoS data plane (``dataplane.qos.QosManager`` is one)."""

    def apply(self, desired: Mapping[str, PortShaping]) -> Any: ...


class RouterQosApplier(Protocol):
    """Floating-IP limits (``dataplane.qos_fip.RouterQosManager`` is one)."""

    def apply(self, desired: Mapping[str, RouterShaping]) -> Any: ...


class DscpApplier(Protocol):
    """DSCP marks (``dataplane.dscp.DscpManager`` is one): the changes it made."""

    def apply(self, marks: Mapping[str, int], force: bool = False) -> list[str]: ...


class QosRole(KeyedRole):
    agent = None  # reported in the L2 agent's configurations

    def __init__(
        self,
        manager: QosApplier,
        routers: RouterQosApplier | None = None,
        namespace_suffix: str = "",
        marks: DscpApplier | None = None,
    ) -> None:
        self.manager = manager
        self.marks = marks  # DSCP marking (None: not enforced by this agent)
        self.routers = routers  # on an L3 host: floating IPs' limits in its routers
        self.namespace_suffix = namespace_suffix
        self.configurations: dict[str, Any] = {}
        self.shaped: set[str] = set()
        self.calc = QosCalc()
        self.failed: dict[str, DataplaneError] = {}

    def apply(self, rnd: Round) -> None:
        shaping, all_marks = self.calc.compute(rnd.state)
        desired = {d: s for d, s in shaping.items() if d not in rnd.report.missing}
        fip_desired = (
            desired_fip_shaping(rnd.state, self.namespace_suffix) if self.routers else None
        )
        # a mark names its tap, present or not: the kernel matches the name when it comes
        marks = all_marks if self.marks else None
        unchanged = self.unchanged(rnd, desired, fip_desired, marks)
        if unchanged and not desired.keys() & rnd.report.attached:
            return  # the same shaping, no tap made anew: the resync still reads tc back
        self.failed, changes = {}, []
        try:  # a kernel without tc (or ifb) fails this role alone, never the round
            report = self.manager.apply(desired)
            self.shaped = set(report.applied)
            self.failed.update(report.failed)
            changes += report.changes
            if self.routers is not None and fip_desired is not None:
                fips = self.routers.apply(fip_desired)
                self.failed.update({f"router {r}": e for r, e in fips.failed.items()})
                changes += fips.changes
        except DataplaneError as exc:
            self.failed["QoS"] = exc
        try:
            if self.marks is not None and marks is not None:
                changes += self.marks.apply(marks, force=rnd.full)
        except DataplaneError as exc:
            self.failed["DSCP"] = exc
        log_failures("QoS on", self.failed)
        if changes:
            log.info("QoS: %s", "; ".join(changes))

    def gauges(self) -> dict[str, int]:
        return {"qos_ports": len(self.shaped)}
