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

_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_ICMP = {"type": "integer", "minimum": 0, "maximum": 255}
_STRING = {"type": "string"}
# The body ``service.trace.parse_request`` accepts, for the OpenAPI document and its fuzzers.
BODY = {
    "type": "object",
    "required": ["trace"],
    "properties": {
        "trace": {
            "type": "object",
            "required": ["destination"],
            "additionalProperties": False,
            "properties": {
                "source": {
                    "type": "object",
                    "properties": {
                        "port_id": _STRING,
                        "network_id": _STRING,
                        "ip_address": _STRING,
                    },
                },
                "destination": _STRING,
                "protocol": _STRING,
                "destination_port": _PORT,
                "source_port": _PORT,
                "icmp_type": _ICMP,
                "icmp_code": _ICMP,
                "source_ip": _STRING,
                "source_mac": _STRING,
                "verify": {"type": "boolean"},
            },
        }
    },
}


@router.post(
    "/neutrino/v1/trace",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": BODY}}}
    },
)
async def trace(request: Request) -> Response:
    ctx = context(request)
    body = await json_body(request)
    result = await run_in_threadpool(services(request).trace.trace, ctx, body)
    return json_response({"trace": result})
