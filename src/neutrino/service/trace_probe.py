"""One ``verify``'s probe packet, sent and followed by the agents of the path's hosts.

``Probe`` is made per ``verify``: ``requests()`` is what the kernel checks carry to each
asked host (the plan of ``domain.trace.probe_request``, stamped with ``send_at``: now plus
``LEAD`` seconds, by when every host must have its throwaway tables and monitors ready;
empty when no probe is possible), and ``judge(answers, hops, begun)`` reads the hosts'
reports with the lab's reader (``domain.trace.probe``: ``fate`` and ``finding``) into the
answer's ``verify.probe``. When no probe can be made or judged (a trace from outside, a
protocol the probe does not craft, a path host without a live agent, a host silent, late or
too old to know the probe) it is ``{"verdict": "unavailable", "reason"}``: the state
comparison of the same checks stands alone.

``LEAD`` is the price of not reaching into hosts: the checks reach the agents through their
long-poll (at once within a server process, within ``kernel_checks.FILED_POLL`` across
processes), and each agent then needs a few hundred milliseconds for ``nft monitor`` and its
tables; a host that is still not ready at ``send_at`` says so and the probe is
``unavailable``, never a half-watched path.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence
from typing import Any

from neutrino.domain.trace import NetworkModel
from neutrino.domain.trace.packet import Trace
from neutrino.domain.trace.probe import fate, finding
from neutrino.domain.trace.probe_packet import new_mark
from neutrino.domain.trace.probe_request import assemble, plan

__all__ = ["LEAD", "Probe"]

LEAD = 1.2  # seconds from filing the checks to sending the probe


class Probe:
    """See the module docstring."""

    def __init__(
        self,
        trace: Trace,
        hosts: Sequence[str],
        asked: Sequence[str],
        model: NetworkModel | None,
        port_id: str | None,
        lead: float = LEAD,
    ) -> None:
        self.hosts = list(asked)
        self.verdict = trace.verdict
        self.request: dict[str, Any] | None = None
        self.reason = ""
        missing = [h for h in hosts if h not in asked]
        if model is None or port_id is None:
            self.reason = "a trace from outside: no source port to send from"
        elif missing:
            self.reason = f"host {missing[0]} of the path has no live agent to follow the probe"
        else:
            version = ipaddress.ip_address(trace.packet.dst).version
            planned = plan(model, port_id, trace.packet, asked, new_mark(version))
            if isinstance(planned, str):
                self.reason = planned
            else:
                planned["send_at"] = time.time() + lead
                self.request = planned

    def requests(self) -> dict[str, dict[str, Any]] | None:
        if self.request is None:
            return None
        return {h: {"probe": self.request} for h in self.hosts}

    def judge(
        self,
        answers: Mapping[str, Mapping[str, Any] | None],
        hops: Sequence[dict[str, Any]],
        begun: float,
    ) -> dict[str, Any]:
        if self.request is None:
            return {"verdict": "unavailable", "reason": self.reason}
        events = assemble(self.hosts, answers)
        if isinstance(events, str):
            return {"verdict": "unavailable", "reason": events}
        found = finding(hops, self.verdict, fate(events, f"nprobe-{self.request['mark']:x}"))
        source = self.request["source"]
        found["sent_from"] = f"host {source['host']} ({source['tap']}'s ingress)"
        found["match"] = self.request["match"]
        found["milliseconds"] = _timings(answers, self.hosts, begun)
        return found


def _timings(
    answers: Mapping[str, Mapping[str, Any] | None], hosts: Sequence[str], begun: float
) -> dict[str, float]:
    """The slowest host's phases, and the whole ask as the controller saw it."""
    out: dict[str, float] = {}
    for host in hosts:
        report = (answers.get(host) or {}).get("probe") or {}
        for phase, ms in (report.get("milliseconds") or {}).items():
            out[phase] = max(out.get(phase, 0.0), float(ms))
    out["total"] = round((time.monotonic() - begun) * 1000, 1)
    return out
