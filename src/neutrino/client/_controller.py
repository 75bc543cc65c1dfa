"""``Controller``: typed calls of the agent API (``/agent/v1``) and a few Neutron v2.0 ones.

Agent API (needs an admin or ``service``-role token):

* ``report_agent`` — register / heartbeat (one call, ``start_flag`` on the first);
* ``watch_host_state`` — the long-poll: a snapshot without ``since``; with it, the new state
  when something concerning the host changed, else ``state=None`` and the next revision;
* ``report_port_status`` — ACTIVE when wired, DOWN when not; ``report_port_statuses`` many
  in one call;
* ``wait_port`` — the "vif plugged" event a manager waits on.

Neutron resources (networks, subnets, ports; agents listed; the API root): ``create_*``,
``list_*``, ``get_*``, ``delete_*`` (and ``update_port``), returning the resource dicts of the
wire format unchanged. ``trace`` asks neutrino's own API why a packet arrives or not. Errors
are the ``ClientError`` tree; nothing is retried here (see ``Session``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neutrino.client._session import Session
from neutrino.domain import statedelta
from neutrino.domain.hoststate import HostState, body_digest

AGENT = "/agent/v1"
NEUTRON = "/v2.0"
POLL_SLACK = 10.0  # HTTP timeout beyond the long-poll's own


@dataclass(frozen=True)
class HostStateWatch:
    """One answer of the host-state watch; ``state`` None means "no change, poll on"."""

    host: str
    revision: int
    snapshot: bool
    state: HostState | None


class Controller:
    """The controller's API through one ``Session``."""

    def __init__(self, session: Session) -> None:
        self.session = session
        # host -> (revision, wire form, state, digest) of the last state served
        self._bases: dict[str, tuple[int, dict[str, Any], HostState, str]] = {}

    # --- agent API -----------------------------------------------------------------------

    def report_agent(
        self,
        host: str,
        configurations: dict[str, Any],
        *,
        agent_type: str = "L2 agent",
        binary: str = "neutrino-agent",
        start_flag: bool = False,
    ) -> dict[str, Any]:
        body = {
            "agent": {
                "host": host,
                "agent_type": agent_type,
                "binary": binary,
                "configurations": configurations,
                "start_flag": start_flag,
            }
        }
        return self.session.request("POST", f"{AGENT}/agents", json=body)["agent"]  # type: ignore[no-any-return]

    def watch_host_state(
        self, host: str, since: int | None = None, timeout: float = 30.0
    ) -> HostStateWatch:
        """One watch call. The wire form of the last state is kept per host, so after the
        first snapshot the controller may answer with a delta against it."""
        params: dict[str, Any] = {"timeout": timeout}
        base = self._bases.get(host)
        if since is not None:
            params["since"] = since
            if base is not None and base[0] == since:
                params["delta"] = 1
        body = self.session.request(
            "GET", f"{AGENT}/hosts/{host}/state", params=params, timeout=timeout + POLL_SLACK
        )
        revision = int(body["revision"])
        raw = body.get("state")
        state = None if raw is None else HostState.from_dict(raw)
        digest = None if raw is None else body_digest(raw)
        if body.get("delta") is not None and base is not None:
            delta = body["delta"]
            digest = statedelta.advance_digest(base[3], base[1], delta)  # the items it names
            if body.get("digest") and digest != body["digest"]:
                # our copy and the one the delta was made against differed: start over
                del self._bases[host]
                return self.watch_host_state(host, None, timeout)
            raw = statedelta.patch(base[1], delta)
            state = base[2].patched(delta)  # only the items the delta names are parsed
        if raw is not None and state is not None and digest is not None:
            self._bases[host] = (revision, raw, state, digest)
        elif base is not None and since is not None and base[0] == since:
            self._bases[host] = (revision, *base[1:])  # nothing changed: same state, new label
        return HostStateWatch(
            host=body["host"],
            revision=revision,
            snapshot=bool(body.get("snapshot")),
            state=state,
        )

    def report_port_status(self, port_id: str, status: str, host: str) -> dict[str, Any]:
        body = {"port": {"status": status, "host": host}}
        return self.session.request(  # type: ignore[no-any-return]
            "POST", f"{AGENT}/ports/{port_id}/status", json=body
        )["port"]

    def report_port_statuses(
        self, host: str, statuses: list[tuple[str, str]]
    ) -> list[dict[str, Any]]:
        """Many ports' (id, status) on ``host`` in one call: each port's result, or its
        ``error`` ({type, message}) when it is gone or bound elsewhere."""
        body = {"ports": [{"id": p, "status": s, "host": host} for p, s in statuses]}
        return self.session.request(  # type: ignore[no-any-return]
            "POST", f"{AGENT}/ports/status", json=body
        )["ports"]

    def report_floatingip_status(self, fip_id: str, status: str) -> dict[str, Any]:
        body = {"floatingip": {"status": status}}
        return self.session.request(  # type: ignore[no-any-return]
            "POST", f"{AGENT}/floatingips/{fip_id}/status", json=body
        )["floatingip"]

    def poll_checks(self, host: str, timeout: float = 30.0) -> list[str]:
        """Long-poll the drift checks the controller asks of ``host`` (``--verify``): ids."""
        return [str(c["id"]) for c in self.poll_check_requests(host, timeout)]

    def poll_check_requests(self, host: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Long-poll the checks the controller asks of ``host``: ``{"id", "probe"?}`` each
        (``probe``: this host's part of a probe packet, ``agent.probe_responder``)."""
        body = self.session.request(
            "GET",
            f"{AGENT}/hosts/{host}/checks",
            params={"timeout": timeout},
            timeout=timeout + POLL_SLACK,
        )
        return [c for c in body.get("checks", []) if isinstance(c, dict) and "id" in c]

    def answer_check(
        self,
        host: str,
        check_id: str,
        differences: list[str],
        probe: dict[str, Any] | None = None,
    ) -> None:
        """The answer to check ``check_id``: the host's differences, as the check prints them,
        and what its part of the probe saw, if it was asked one."""
        body: dict[str, Any] = {"check": {"differences": differences}}
        if probe is not None:
            body["check"]["probe"] = probe
        self.session.request("POST", f"{AGENT}/hosts/{host}/checks/{check_id}", json=body)

    def report_router_ha_state(self, router_id: str, host: str, ha_state: str) -> dict[str, Any]:
        """keepalived on ``host`` made the HA router master (``active``) or backup."""
        body = {"router": {"host": host, "ha_state": ha_state}}
        return self.session.request(  # type: ignore[no-any-return]
            "POST", f"{AGENT}/routers/{router_id}/ha_state", json=body
        )["router"]

    def l3_agents_hosting(self, router_id: str) -> list[dict[str, Any]]:
        return self.session.request(  # type: ignore[no-any-return]
            "GET", f"/v2.0/routers/{router_id}/l3-agents"
        )["agents"]

    def wait_port(
        self, port_id: str, status: str = "ACTIVE", timeout: float = 30.0
    ) -> dict[str, Any]:
        return self.session.request(  # type: ignore[no-any-return]
            "GET",
            f"{AGENT}/ports/{port_id}/events",
            params={"status": status, "timeout": timeout},
            timeout=timeout + POLL_SLACK,
        )["event"]

    # --- Neutron v2.0 --------------------------------------------------------------------

    def api_root(self) -> dict[str, Any]:
        """``GET /v2.0/``: the resources the Networking API offers (oVirt's connection test)."""
        body = self.session.request("GET", f"{NEUTRON}/")
        return body if isinstance(body, dict) else {}

    def list_agents(self, **filters: Any) -> list[dict[str, Any]]:
        return self._list("agents", filters)

    def _create(self, plural: str, singular: str, attrs: dict[str, Any]) -> dict[str, Any]:
        body = self.session.request("POST", f"{NEUTRON}/{plural}", json={singular: attrs})
        return body[singular]  # type: ignore[no-any-return]

    def _list(self, plural: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        return self.session.request(  # type: ignore[no-any-return]
            "GET", f"{NEUTRON}/{plural}", params=filters or None
        )[plural]

    def _get(self, plural: str, singular: str, rid: str) -> dict[str, Any]:
        return self.session.request(  # type: ignore[no-any-return]
            "GET", f"{NEUTRON}/{plural}/{rid}"
        )[singular]

    def _delete(self, plural: str, rid: str) -> None:
        self.session.request("DELETE", f"{NEUTRON}/{plural}/{rid}")

    def create_network(self, **attrs: Any) -> dict[str, Any]:
        return self._create("networks", "network", attrs)

    def list_networks(self, **filters: Any) -> list[dict[str, Any]]:
        return self._list("networks", filters)

    def get_network(self, network_id: str) -> dict[str, Any]:
        return self._get("networks", "network", network_id)

    def delete_network(self, network_id: str) -> None:
        self._delete("networks", network_id)

    def create_subnet(self, network_id: str, cidr: str, **attrs: Any) -> dict[str, Any]:
        attrs.setdefault("ip_version", 6 if ":" in cidr else 4)
        return self._create("subnets", "subnet", {"network_id": network_id, "cidr": cidr, **attrs})

    def list_subnets(self, **filters: Any) -> list[dict[str, Any]]:
        return self._list("subnets", filters)

    def get_subnet(self, subnet_id: str) -> dict[str, Any]:
        return self._get("subnets", "subnet", subnet_id)

    def delete_subnet(self, subnet_id: str) -> None:
        self._delete("subnets", subnet_id)

    def create_port(self, network_id: str, **attrs: Any) -> dict[str, Any]:
        return self._create("ports", "port", {"network_id": network_id, **attrs})

    def list_ports(self, **filters: Any) -> list[dict[str, Any]]:
        return self._list("ports", filters)

    def get_port(self, port_id: str) -> dict[str, Any]:
        return self._get("ports", "port", port_id)

    def update_port(self, port_id: str, **attrs: Any) -> dict[str, Any]:
        body = self.session.request("PUT", f"{NEUTRON}/ports/{port_id}", json={"port": attrs})
        return body["port"]  # type: ignore[no-any-return]

    def delete_port(self, port_id: str) -> None:
        self._delete("ports", port_id)

    # --- neutrino's own API --------------------------------------------------------------

    def trace(self, **question: Any) -> dict[str, Any]:
        """``POST /neutrino/v1/trace``: the path of one packet (``source``, ``destination``,
        ``protocol``, ``destination_port``, ...); returns the trace (verdict, hops, reply)."""
        return self.session.request(  # type: ignore[no-any-return]
            "POST", "/neutrino/v1/trace", json={"trace": question}
        )["trace"]


__all__ = ["Controller", "HostStateWatch"]
