"""The packet trace as a use case: validate the question, load the model, walk, redact.

``TraceService.trace(ctx, body)`` answers ``POST /neutrino/v1/trace``. The body names a source
(a port, or an outside address on an external network) and a packet; ``parse_request``
checks every field and raises ``BadRequest`` (400) for anything malformed, so a hostile body
never reaches the walk.

Policy, the rest of the API's: the source port must be one the caller may see
(``PortService.get``: another project's port is 404, as for a GET); an outside source needs an
admin, or a destination that is a floating IP the caller may see. The model itself is read
with the admin's view (a path crosses other projects' routers and ports), then every hop whose
object belongs to another project is redacted for a non-admin: the verdict stays, the object,
the reason and the fix do not.

The model is read through the services' own list renders (the Neutron wire form the API
shows), one read per collection, and kept per change-log revision (``trace_model``): a trace
after no change reads no collection. A change racing the build can make two collections
disagree for that one model, which the next change's rebuild settles.

``verify`` (admins only: it shows every project's kernel) asks the agents of the hosts the
path crosses for their kernel's differences (``kernel_checks``) and names the first hop that
relies on one (``domain.trace.kernel``); the same checks carry a probe packet the agents send
and follow (``trace_probe``).
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from neutrino.common.errors import BadRequest, PolicyNotAuthorized
from neutrino.domain.listing import ListQuery
from neutrino.domain.security_groups import PROTOCOLS
from neutrino.domain.trace import NetworkModel, Packet, from_neutron, kernel
from neutrino.domain.trace.model import PortForwarding
from neutrino.domain.trace.packet import Hop, Trace
from neutrino.domain.trace.walk import trace_from_external, trace_from_port
from neutrino.service.agents import AgentService
from neutrino.service.binding import parse_configurations, tunnel_ip_of
from neutrino.service.context import RequestContext, admin_context
from neutrino.service.kernel_checks import KernelChecks
from neutrino.service.networks import NetworkService
from neutrino.service.ports import PortService
from neutrino.service.routers import RouterService
from neutrino.service.routers.floatingips import FloatingIpService
from neutrino.service.security_groups import SecurityGroupService
from neutrino.service.subnets import SubnetService
from neutrino.service.trace_model import ModelCache
from neutrino.service.trace_probe import LEAD, Probe
from neutrino.store import address_groups as address_group_repo
from neutrino.store import trace as repo
from neutrino.store.uow import Store

__all__ = ["TraceRequest", "TraceService", "parse_request"]

FIELDS = frozenset(
    {
        "source",
        "destination",
        "protocol",
        "destination_port",
        "source_port",
        "icmp_type",
        "icmp_code",
        "source_ip",
        "source_mac",
        "verify",
    }
)
VERIFY_TIMEOUT = 10.0  # seconds the agents have to answer a ``verify``
MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
PORT_PROTOCOLS = frozenset({"tcp", "udp", "sctp", "dccp", "udplite"})
REDACTED = "an object of another project"


@dataclass(frozen=True)
class TraceRequest:
    packet: Packet
    port_id: str | None = None
    network_id: str | None = None  # an outside source: its external network and address
    address: str | None = None
    verify: bool = False  # cross-check each hop against the agents' kernels


def _bad(message: str) -> BadRequest:
    return BadRequest(f"Invalid trace request: {message}")


def _ip(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"{name} must be an IP address")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _bad(f"{name} {value!r} is not an IP address") from None


def _int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"{name} must be an integer from {low} to {high}")
    return value


def _id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255:
        raise _bad(f"{name} must be a non-empty string")
    return value


def parse_request(body: Any) -> TraceRequest:
    """The validated question (see the module docstring); 400 for anything malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("trace"), dict):
        raise BadRequest("Unable to find 'trace' in request body")
    t: dict[str, Any] = body["trace"]
    unknown = sorted(set(t) - FIELDS)
    if unknown:
        raise _bad(f"unknown attribute(s) {', '.join(map(str, unknown))}")
    dst = _ip(t.get("destination"), "destination")
    protocol = t.get("protocol", "icmp")
    if isinstance(protocol, str):
        protocol = protocol.lower()
        if protocol == "icmpv6":
            protocol = "ipv6-icmp"
        if protocol not in PROTOCOLS or protocol in ("ip", "hopopt"):
            raise _bad(f"protocol {protocol!r} is not one of {', '.join(sorted(PROTOCOLS))}")
    else:
        raise _bad("protocol must be a protocol name")
    dport = _int(t, "destination_port", 1, 65535)
    sport = _int(t, "source_port", 1, 65535)
    if protocol in PORT_PROTOCOLS and dport is None:
        raise _bad(f"{protocol} needs a destination_port")
    if protocol not in PORT_PROTOCOLS and (dport is not None or sport is not None):
        raise _bad(f"ports are only for {', '.join(sorted(PORT_PROTOCOLS))}")
    icmp_type, icmp_code = _int(t, "icmp_type", 0, 255), _int(t, "icmp_code", 0, 255)
    if protocol not in ("icmp", "ipv6-icmp") and (icmp_type is not None or icmp_code is not None):
        raise _bad("icmp_type and icmp_code are only for icmp")
    src_ip = None if t.get("source_ip") is None else _ip(t["source_ip"], "source_ip")
    version = ipaddress.ip_address(dst).version
    if src_ip is not None and ipaddress.ip_address(src_ip).version != version:
        raise _bad("source_ip and destination must be of one IP version")
    if protocol == "icmp" and version == 6:
        protocol = "ipv6-icmp"
    src_mac = t.get("source_mac")
    if src_mac is not None and (not isinstance(src_mac, str) or not MAC.match(src_mac)):
        raise _bad("source_mac must be a MAC address")
    packet = Packet(
        dst=dst,
        protocol=protocol,
        dport=dport,
        sport=sport,
        icmp_type=icmp_type,
        icmp_code=icmp_code,
        src=src_ip,
        src_mac=src_mac and src_mac.lower(),
    )
    verify = t.get("verify", False)
    if not isinstance(verify, bool):
        raise _bad("verify must be true or false")
    source = t.get("source")
    if not isinstance(source, dict) or not source:
        raise _bad("source must be {port_id} or {network_id, ip_address}")
    if set(source) == {"port_id"}:
        return TraceRequest(packet, port_id=_id(source["port_id"], "source.port_id"), verify=verify)
    if set(source) == {"network_id", "ip_address"}:
        address = _ip(source["ip_address"], "source.ip_address")
        if ipaddress.ip_address(address).version != version:
            raise _bad("source.ip_address and destination must be of one IP version")
        return TraceRequest(
            packet.with_(src=address),
            network_id=_id(source["network_id"], "source.network_id"),
            address=address,
            verify=verify,
        )
    raise _bad("source must be {port_id} or {network_id, ip_address}")


def _hop_dict(hop: Hop, ctx: RequestContext) -> dict[str, Any]:
    visible = ctx.is_admin or hop.owner in (None, "") or ctx.in_project(hop.owner or "")
    if not visible:
        return {
            "step": hop.step,
            "object": REDACTED,
            "verdict": hop.verdict,
            "detail": f"{hop.step}: {hop.verdict}",
            "fix": None,
        }
    return {
        "step": hop.step,
        "object": hop.obj,
        "verdict": hop.verdict,
        "detail": hop.detail,
        "fix": hop.fix,
    }


def trace_dict(trace: Trace, ctx: RequestContext) -> dict[str, Any]:
    packet = {k: v for k, v in asdict(trace.packet).items() if v is not None}
    return {
        "verdict": trace.verdict,
        "reply_verdict": trace.reply_verdict,
        "packet": packet,
        "hops": [_hop_dict(h, ctx) for h in trace.hops],
        "reply": [_hop_dict(h, ctx) for h in trace.reply],
    }


class TraceService:
    def __init__(
        self,
        store: Store,
        networks: NetworkService,
        subnets: SubnetService,
        ports: PortService,
        groups: SecurityGroupService,
        routers: RouterService,
        floatingips: FloatingIpService,
        agents: AgentService,
    ) -> None:
        self.store = store
        self.checks = KernelChecks(store)  # the agents' answers to ``verify`` (any process)
        self.models = ModelCache(store)
        self.verify_timeout = VERIFY_TIMEOUT
        self.probe_lead = LEAD  # seconds the agents have to be ready for a probe
        self.networks, self.subnets, self.ports = networks, subnets, ports
        self.groups, self.routers, self.floatingips, self.agents = (
            groups,
            routers,
            floatingips,
            agents,
        )

    def model(self) -> NetworkModel:
        """The whole intended network as of the latest change (``trace_model``)."""
        return self.models.get(self.load)

    def load(self) -> NetworkModel:
        """The whole intended network, as an admin sees it, read now."""
        admin, everything = admin_context(), ListQuery()
        vteps = {}
        for agent in self.agents.search(admin, ListQuery()):
            tunnel = tunnel_ip_of(parse_configurations(agent.get("configurations") or {}))
            if tunnel and agent.get("host"):
                vteps[agent["host"]] = tunnel
        with self.store.read() as conn:
            system = repo.system_owned_ports(conn)
            forwardings = [
                PortForwarding(r[0], r[1], r[2], r[3], (r[4], r[5]), r[6], (r[7], r[8]), r[9])
                for r in repo.port_forwardings(conn)
                if ":" not in r[1]  # IPv4 only, as the L3 agent installs them
            ]
            address_groups = address_group_repo.everything(conn)
        return from_neutron(
            self.networks.search(admin, everything),
            self.subnets.search(admin, everything),
            self.ports.search(admin, everything),
            self.groups.search(admin, everything),
            self.routers.search(admin, everything),
            self.floatingips.search(admin, everything),
            vteps=vteps,
            system_owned=system,
            forwardings=forwardings,
            address_groups=address_groups,
        )

    def trace(self, ctx: RequestContext, body: Any) -> dict[str, Any]:
        request = parse_request(body)
        if request.verify and not ctx.is_admin:
            raise PolicyNotAuthorized("rule:trace_verify")  # it shows every project's kernel
        if request.port_id is not None:
            self.ports.get(ctx, request.port_id)  # 404 unless the caller may see it
            model = self.model()
            trace = trace_from_port(model, request.port_id, request.packet)
        else:
            assert request.network_id is not None and request.address is not None
            self._check_outside(ctx, request)
            model = self.model()
            if request.network_id not in model.networks or (
                not model.networks[request.network_id].external
            ):
                raise _bad(f"source.network_id {request.network_id} is not an external network")
            trace = trace_from_external(model, request.network_id, request.address, request.packet)
        answer = trace_dict(trace, ctx)
        if request.verify:
            answer["verify"] = self.verify(trace, model, request.port_id, answer["hops"])
        return answer

    def verify(
        self,
        trace: Trace,
        model: NetworkModel | None = None,
        port_id: str | None = None,
        hops: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Ask the agents of the hosts the path crosses for their kernel's differences and
        name the first hop relying on one (``domain.trace.kernel``); with the ``model`` and
        a source port, the same checks carry a probe packet (``trace_probe``)."""
        hosts = kernel.hosts_of(trace.hops)
        live = {
            a["host"]
            for a in self.agents.search(admin_context(), ListQuery())
            if a.get("alive") and a.get("agent_type") == "L2 agent"
        }
        asked = [h for h in hosts if h in live]  # a host without a live agent: not waited for
        probe = Probe(trace, hosts, asked, model, port_id, self.probe_lead)
        begun = time.monotonic()
        full = self.checks.ask_with(asked, self.verify_timeout, probe.requests()) if asked else {}
        answers = {h: None if a is None else a["differences"] for h, a in full.items()}
        differences = {h: a for h, a in answers.items() if a is not None}
        silent = sorted(set(hosts) - set(differences))
        out: dict[str, Any] = {
            "hosts": {
                h: "answered" if h in differences else "no answer" if h in live else "no agent"
                for h in hosts
            },
            "differences": {h: len(a) for h, a in differences.items()},
        }
        found = kernel.first_difference(trace.hops, differences)
        if found is not None:
            index, lines = found
            hop = trace.hops[index]
            out.update(
                verdict="differs",
                hop=index + 1,
                step=hop.step,
                object=hop.obj,
                detail=lines,
            )
        else:
            out["verdict"] = "unverified" if silent or not hosts else "agrees"
        out["probe"] = probe.judge(full, hops or [], begun)
        return out

    def _check_outside(self, ctx: RequestContext, request: TraceRequest) -> None:
        if ctx.is_admin:
            return
        query = ListQuery(filters={"floating_ip_address": [request.packet.dst]})
        if not self.floatingips.search(ctx, query):
            raise PolicyNotAuthorized("rule:trace_from_outside")
