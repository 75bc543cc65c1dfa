"""This host's part of a trace's probe packet, asked with a kernel check (``verify``).

The controller never reaches into a host; when a trace's ``verify`` sends a probe, every
host of the path finds ``probe`` in its kernel check (``domain.trace.probe_request.plan``:
the packet, the nft match, the source tap and MACs, and ``send_at``, the epoch second by
which every host must be ready). ``ProbeResponder.run`` does this host's part with the lab's
kernel code (``agent.dataplane.probe.send_probe``), in the namespaces this agent owns only:

* its hypervisor namespace (``--netns``, else the host's own), with the L3 role the
  ``qrouter-`` namespace of each router scheduled here, with the DHCP role the ``qdhcp-``
  namespace of each network served here: a throwaway ``nprobe-<mark>`` table and an ``nft
  monitor`` in each, the probe dropped before every VM tap of this host, as it leaves a
  router's gateway and as it reaches a router or DHCP server itself, so no VM, dnsmasq or
  anything outside ever sees it;
* on the source port's host only, the packet written into the source tap's ingress (a
  ``TapInjection``: as if the VM had sent it, the VM untouched), at ``send_at``;
* the trace lines each monitor saw until the probe was dropped, or went quiet, or a bounded
  wait ended, reported as ``[role, label, line]``; every table, monitor and device it added
  is removed (a ``finally`` in ``send_probe``) before the answer is posted.

A host ready only after ``send_at`` does not send (its answer says why); so does one whose
request is malformed or whose kernel lacks a tool: the controller then reports the probe
``unavailable`` with that reason, and the drift comparison of the same check stands.
``send_at`` is a wall-clock time, so the hosts' clocks must agree to well within
``LEAD`` (the controller's margin, ``service.trace``): NTP's milliseconds are plenty.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from neutrino.domain.hoststate import HostState, dhcp_namespace
from neutrino.domain.trace.probe import Place
from neutrino.domain.trace.probe_request import shape_of

if TYPE_CHECKING:
    from neutrino.agent.main import AgentSettings

__all__ = ["FLIGHT", "QUIET", "ProbeResponder", "places_of", "vm_taps"]

log = logging.getLogger(__name__)

FLIGHT = 2.0  # seconds at most a host watches after ``send_at``
QUIET = 0.5  # seconds without a trace line after which this host's watch ends
MAX_LINE = 900  # characters of one trace line in the report (the controller takes 1,024)


def _netns_exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


def vm_taps(state: HostState) -> list[str]:
    """The taps of this host's VMs (not a router's or DHCP's port): the probe stops there."""
    return [
        p.device_name
        for p in state.ports
        if not p.system_owned and not p.device_owner.startswith("network:")
    ]


def places_of(
    settings: AgentSettings, state: HostState, exists: Callable[[str], bool] = _netns_exists
) -> list[Place]:
    """The namespaces this agent owns on the path: its hypervisor's, its routers' and its
    DHCP servers' (those there: a namespace gone missing is a fault the probe should show
    as a packet lost, not a probe that cannot start)."""
    places = [Place(settings.netns or "", "host", settings.host)]
    suffix = settings.dhcp_namespace_suffix()  # the routers' namespaces take it too
    if settings.l3:
        routers = [(f"qrouter-{r.id}{suffix}", r.id) for r in state.routers]
        places += [Place(ns, "router", rid) for ns, rid in routers if exists(ns)]
    if settings.dhcp:
        served = [(f"{dhcp_namespace(d.network_id)}{suffix}", d.network_id) for d in state.dhcp]
        places += [Place(ns, "dhcp", net) for ns, net in served if exists(ns)]
    return places


def _send(*args: Any, **kwargs: Any) -> Any:
    from neutrino.agent.dataplane.probe import send_probe  # root, subprocesses: at use only

    return send_probe(*args, **kwargs)


class ProbeResponder:
    """Does this host's part of one probe (see the module docstring)."""

    def __init__(self, settings: AgentSettings, send: Callable[..., Any] = _send) -> None:
        self.settings = settings
        self.send = send

    def run(self, request: Any, state: HostState) -> dict[str, Any]:
        """The report of this host's part: ``{"lines", "sent", "milliseconds"}``, or
        ``{"error"}`` when it could not take part."""
        from neutrino.agent.dataplane.probe import ProbeError, TapInjection

        try:
            shape = shape_of(request)
            source = request["source"]
            send_at = float(request["send_at"])
            injection = None
            if source["host"] == self.settings.host:
                injection = TapInjection(
                    self.settings.netns, str(source["tap"]), str(source["src_mac"]),
                    str(source["dst_mac"]),
                )  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            return {"error": f"a malformed probe request ({exc!r})"}
        places = places_of(self.settings, state)
        begun = time.monotonic()
        at = begun + (send_at - time.time())  # the controller's moment on this clock
        try:
            run = self.send(
                places, shape, injection, vm_taps(state), timeout=FLIGHT, send_at=at, quiet=QUIET
            )
        except ProbeError as exc:
            return {"error": str(exc)}
        except Exception as exc:  # a check must never kill the answerer's thread
            log.exception("probe %s failed", request.get("mark"))
            return {"error": f"the probe failed on this host: {exc}"}
        return {
            "lines": _lines(run.events),
            "sent": injection is not None,
            "milliseconds": {k: round(v * 1000, 1) for k, v in run.timings.items()},
        }


def _fit(line: str) -> str:
    """A line within the controller's limit per line (``kernel_checks.MAX_LINE``, with room
    for the role and label): its head (the chain, the packet's devices and TTL) and its
    tail (the verdict) are what the reader needs."""
    if len(line) <= MAX_LINE:
        return line
    return f"{line[: MAX_LINE - 300]} ... {line[-250:]}"


def _lines(events: Sequence[Any]) -> list[list[str]]:
    """The events as ``[role, label, line]``, the line as ``nft monitor`` printed it."""
    return [
        [
            e.place.role,
            e.place.label,
            _fit(f"trace id {e.trace_id} {e.family} {e.table} {e.chain} {e.text}"),
        ]
        for e in events
    ]
