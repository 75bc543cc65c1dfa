"""``POST /neutrino/v1/trace``: why a packet arrives or not (``service/trace.py``).

JSON in: ``{"trace": {"source": {"port_id"} | {"network_id", "ip_address"}, "destination",
"protocol", "destination_port", "source_port", "icmp_type", "icmp_code", "source_ip",
"source_mac"}}``; JSON out: ``{"trace": {"verdict", "packet", "hops": [...], "reply": [...]}}``.
Errors are Neutron's envelope (400 bad input, 401, 403, 404 for a port the caller cannot see).
The walk reads the whole model, so it runs in a worker thread, off the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from neutrino.api.http import context, json_body, json_response, services

router = APIRouter()


@router.post("/neutrino/v1/trace")
async def trace(request: Request) -> Response:
    ctx = context(request)
    body = await json_body(request)
    result = await run_in_threadpool(services(request).trace.trace, ctx, body)
    return json_response({"trace": result})
