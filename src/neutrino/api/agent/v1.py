"""``/agent/v1``: thin HTTP over ``AgentService.report`` and ``HostSyncService``.

- ``POST /agent/v1/agents`` {"agent": {host, agent_type, binary, configurations, start_flag?}}
  -> 200 {"agent": <Neutron agent view>} (register and heartbeat are the same call).
- ``GET /agent/v1/hosts/{host}/state?since=R&timeout=S`` -> {"host", "revision", "snapshot",
  "state"}: a full snapshot now without ``since``; with it, a long-poll (S <= 60 s, default 30)
  that returns the new full state when something concerning the host changed, else
  ``snapshot: false, state: null`` and the revision to poll from next. With ``delta=1`` a
  new state after ``since`` comes as ``"delta"`` (``neutrino.domain.statedelta``) against the
  state served at ``since``, when this server still holds it (else a snapshot, as always).
- ``POST /agent/v1/ports/{id}/status`` {"port": {status: ACTIVE|DOWN, host}} -> {"port": {id,
  status, revision_number}}.
- ``POST /agent/v1/ports/status`` {"ports": [{id, status, host}, ...]} (at most 1,000) ->
  {"ports": [{id, status, revision_number} | {id, error: {type, message}}]}: many reports in
  one transaction (``service.port_status``); a malformed item is a 400 for the whole batch,
  a port gone or bound elsewhere is its item's error.
- ``GET /agent/v1/ports/{id}/events?status=ACTIVE&timeout=S`` -> {"event": {port_id, status,
  plugged, revision, timed_out}}: waits until the port has the status (managers' "vif plugged").
- ``POST /agent/v1/routers/{id}/ha_state`` {"router": {host, ha_state: active|standby}} ->
  {"router": {id, host, ha_state, changed}}: keepalived on that host made the HA router
  master (``active``) or backup (``standby``).
- ``POST /agent/v1/floatingips/{id}/status`` {"floatingip": {status: ACTIVE|DOWN|ERROR}} ->
  {"floatingip": {id, status}}: an L3 agent has (not) configured the floating IP.

- ``GET /agent/v1/hosts/{host}/checks?timeout=S`` -> {"checks": [{"id", "probe"?}]}: a
  long-poll (S <= 60 s) for the drift checks a trace's ``verify`` asks of the host
  (``service.kernel_checks``);
  ``POST /agent/v1/hosts/{host}/checks/{id}`` {"check": {"differences": [str], "probe"?}} -> 204
  (``probe``: what the host's part of a probe packet saw, ``service.kernel_checks``).

All but the event need admin or the ``service`` role; the event needs only visibility of the
port.

Long-polls (the state watch with ``since``, the port event) wait on the event loop and hold
no thread while waiting (``HostSyncService``); their short database reads run in asyncio's
executor, apart from the thread pool ordinary requests use. At most
``Settings.max_long_polls`` run at once in a process; one more is answered 503 at once (the
agent's watcher backs off and retries). ``timeout`` and ``since`` must be finite numbers
from 0 (400 otherwise): a timeout above ``MAX_TIMEOUT`` is taken as ``MAX_TIMEOUT``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Request
from starlette.responses import Response

from neutrino.api.http import (
    context,
    json_body,
    json_response,
    member_body,
    query_number,
    services,
)
from neutrino.common.errors import BadRequest, ServiceUnavailable
from neutrino.service.agents import require_agent_role
from neutrino.service.hostsync import MAX_TIMEOUT

router = APIRouter()
PREFIX = "/agent/v1"
DEFAULT_TIMEOUT = 30.0
MAX_REVISION = 2**53  # revisions are counted from 1; a float holds every integer up to here


@asynccontextmanager
async def _long_poll(request: Request) -> AsyncIterator[None]:
    """Counts this app's long-polls; one past ``max_long_polls`` is refused, not queued."""
    state = request.app.state
    held = getattr(state, "long_polls", 0)
    if held >= services(request).settings.max_long_polls:
        raise ServiceUnavailable("Too many long-polls in progress on this server; retry later.")
    state.long_polls = held + 1
    try:
        yield
    finally:
        state.long_polls -= 1


def _timeout(request: Request) -> float:
    timeout = query_number(request, "timeout", MAX_TIMEOUT, clamp=True)
    return DEFAULT_TIMEOUT if timeout is None else timeout


@router.post(PREFIX + "/agents")
async def report(request: Request) -> Response:
    ctx = context(request)
    body = await member_body(request, "agent")
    return json_response({"agent": services(request).agents.report(ctx, body)})


@router.get(PREFIX + "/hosts/{host}/state")
async def host_state(request: Request, host: str) -> Response:
    ctx = context(request)
    since = query_number(request, "since", MAX_REVISION)
    timeout = _timeout(request)
    delta = request.query_params.get("delta", "").lower() in ("1", "true", "yes")
    cursor = None if since is None else int(since)
    async with _long_poll(request):
        result = await services(request).hostsync.watch(ctx, host, cursor, timeout, delta=delta)
    return json_response(result.to_dict())


@router.get(PREFIX + "/hosts/{host}/checks")
async def host_checks(request: Request, host: str) -> Response:
    ctx = context(request)
    require_agent_role(ctx, "get_host_checks")
    timeout = _timeout(request)
    async with _long_poll(request):
        found = await services(request).trace.checks.pending(host, timeout)
    return json_response({"checks": found})


@router.post(PREFIX + "/hosts/{host}/checks/{check_id}")
async def host_check_answer(request: Request, host: str, check_id: str) -> Response:
    ctx = context(request)
    require_agent_role(ctx, "answer_host_check")
    body = await member_body(request, "check")
    services(request).trace.checks.answer(host, check_id, body)
    return Response(status_code=204)


@router.post(PREFIX + "/ports/status")
async def port_statuses(request: Request) -> Response:
    ctx = context(request)
    body = await json_body(request)
    if not isinstance(body, dict) or "ports" not in body:
        raise BadRequest("Request body must be an object with a 'ports' list.")
    return json_response({"ports": services(request).hostsync.report_statuses(ctx, body["ports"])})


@router.post(PREFIX + "/ports/{port_id}/status")
async def port_status(request: Request, port_id: str) -> Response:
    ctx = context(request)
    body = await member_body(request, "port")
    return json_response({"port": services(request).hostsync.report_status(ctx, port_id, body)})


@router.post(PREFIX + "/floatingips/{fip_id}/status")
async def floatingip_status(request: Request, fip_id: str) -> Response:
    ctx = context(request)
    require_agent_role(ctx, "update_floatingip_status")
    status = (await member_body(request, "floatingip")).get("status")
    if not isinstance(status, str):
        raise BadRequest("'status' must be a string")
    services(request).floatingips.set_status(fip_id, status)
    return json_response({"floatingip": {"id": fip_id, "status": status}})


@router.post(PREFIX + "/routers/{router_id}/ha_state")
async def router_ha_state(request: Request, router_id: str) -> Response:
    ctx = context(request)
    body = await member_body(request, "router")
    return json_response(
        {"router": services(request).l3_agents.report_ha_state(ctx, router_id, body)}
    )


@router.get(PREFIX + "/ports/{port_id}/events")
async def port_event(request: Request, port_id: str) -> Response:
    ctx = context(request)
    timeout = _timeout(request)
    status = request.query_params.get("status", "ACTIVE")
    async with _long_poll(request):
        event = await services(request).hostsync.wait_port(ctx, port_id, status, timeout)
    return json_response({"event": event})
