"""The agent's own Prometheus metrics, served on an optional local port (``--metrics-listen``).

``AgentMetrics`` holds a registry of its own (several agents in one process, as in tests,
stay apart) and is fed by the apply loop (each role's ``gauges``) and the security-group
role:

* ``neutrino_agent_round_seconds`` (histogram): one apply round, all roles;
* ``neutrino_agent_ports_wired``, ``neutrino_agent_ports_frozen``, ``neutrino_agent_devices``
  (by kind: bridge, vxlan), ``neutrino_agent_routers``, ``neutrino_agent_dhcp_networks``
  (gauges, as of the last round);
* ``neutrino_agent_nft_apply_seconds`` (histogram): putting the security-group ruleset in place;
* ``neutrino_agent_drift_differences`` and ``neutrino_agent_drift_checked_timestamp_seconds``
  (gauges): the differences the drift check found before the last periodic resync, and when
  (``agent.drift_report``);
* ``neutrino_agent_errors`` (counter, by kind) and ``neutrino_agent_last_error_timestamp_seconds``
  with ``neutrino_agent_last_error_info{error="…"}``: the class of the last error.

``serve(listen)`` starts prometheus_client's HTTP server (a daemon thread) on ``HOST:PORT``;
``close`` stops it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["AgentMetrics"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FIGURES = {  # a round's figure (``Role.gauges``, "wired" from the loop) -> its gauge
    "wired": ("neutrino_agent_ports_wired", "Ports wired"),
    "frozen": ("neutrino_agent_ports_frozen", "Objects frozen by the last apply"),
    "routers": ("neutrino_agent_routers", "Routers hosted"),
    "dhcp_networks": ("neutrino_agent_dhcp_networks", "Networks served by DHCP"),
}


class AgentMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.round_seconds = Histogram(
            "neutrino_agent_round_seconds", "One apply round", buckets=BUCKETS, registry=r
        )
        self.nft_seconds = Histogram(
            "neutrino_agent_nft_apply_seconds",
            "Applying the security-group ruleset (nft)",
            buckets=BUCKETS,
            registry=r,
        )
        devices = Gauge("neutrino_agent_devices", "Devices desired", ["kind"], registry=r)
        self.figures = {key: Gauge(*about, registry=r) for key, about in FIGURES.items()} | {
            "bridges": devices.labels("bridge"),
            "vxlans": devices.labels("vxlan"),
        }
        self.errors = Counter("neutrino_agent_errors", "Errors by kind", ["kind"], registry=r)
        self.last_error = Gauge(
            "neutrino_agent_last_error_timestamp_seconds",
            "When the last error happened",
            registry=r,
        )
        self.last_error_info = Gauge(
            "neutrino_agent_last_error_info",
            "The last error's class (value 1)",
            ["error"],
            registry=r,
        )
        self.drift_differences = Gauge(
            "neutrino_agent_drift_differences",
            "Kernel differences found before the last periodic resync",
            registry=r,
        )
        self.drift_checked = Gauge(
            "neutrino_agent_drift_checked_timestamp_seconds",
            "When the last drift check ran",
            registry=r,
        )
        self._server: Any = None

    def round_done(self, seconds: float, figures: Mapping[str, int]) -> None:
        """A round took ``seconds``; ``figures`` are the roles' gauges (``Role.gauges``)."""
        self.round_seconds.observe(seconds)
        for name, gauge in self.figures.items():
            gauge.set(figures.get(name, 0))

    def drift(self, differences: int, when: float) -> None:
        self.drift_differences.set(differences)
        self.drift_checked.set(when)

    def error(self, kind: str, exc: BaseException) -> None:
        self.errors.labels(kind).inc()
        self.last_error.set(time.time())
        self.last_error_info.clear()
        self.last_error_info.labels(type(exc).__name__).set(1)

    def serve(self, listen: str) -> int:
        """Serve on ``HOST:PORT`` (port 0: any free one); the port."""
        host, _, port = listen.rpartition(":")
        server, _thread = start_http_server(
            int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry
        )
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
