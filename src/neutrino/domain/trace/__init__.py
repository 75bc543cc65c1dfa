"""Packet trace through the intended network (pure): model, packet, filters, walk."""

from neutrino.domain.trace.build import from_neutron
from neutrino.domain.trace.model import NetworkModel
from neutrino.domain.trace.packet import Hop, Packet, Trace
from neutrino.domain.trace.walk import trace_from_external, trace_from_port

__all__ = [
    "Hop",
    "NetworkModel",
    "Packet",
    "Trace",
    "from_neutron",
    "trace_from_external",
    "trace_from_port",
]
