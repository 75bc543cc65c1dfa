"""``neutrino.client`` against the in-process app: the public surface, auth from the catalog,
re-authentication on 401, and Neutron's error envelope mirrored into the exception tree."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

import neutrino.client as client
from neutrino.client import Conflict, Controller, Credentials, NotFound, Session, TransportError
from tests.conftest import ADMIN_PASSWORD

CREDS = Credentials(
    auth_url="http://testserver/v3", username="admin", password=ADMIN_PASSWORD, project_name="admin"
)


def test_public_surface_is_pinned() -> None:
    assert sorted(client.__all__) == sorted(
        [
            "BadRequest",
            "ClientError",
            "Conflict",
            "Controller",
            "Credentials",
            "EndpointNotFound",
            "Forbidden",
            "HostStateWatch",
            "HttpError",
            "NotFound",
            "PreconditionFailed",
            "ServerError",
            "Session",
            "Token",
            "TransportError",
            "Unauthorized",
        ]
    )


def test_crud_agent_calls_errors_and_reauth(client: TestClient) -> None:
    api = Controller(Session(CREDS, http=client))
    api.report_agent(
        "hv1", {"tunnel_ip": "198.51.100.1", "tunnel_types": ["vxlan"]}, start_flag=True
    )
    net = api.create_network(name="n1")
    api.create_subnet(net["id"], "192.0.2.0/24")
    port = api.create_port(net["id"], **{"binding:host_id": "hv1"})
    assert [n["id"] for n in api.list_networks(name="n1")] == [net["id"]]
    watch = api.watch_host_state("hv1")
    assert watch.snapshot and watch.state is not None
    assert [p.id for p in watch.state.ports] == [port["id"]]
    assert api.report_port_status(port["id"], "ACTIVE", "hv1")["status"] == "ACTIVE"
    with pytest.raises(Conflict) as conflict:
        api.report_port_status(port["id"], "ACTIVE", "hv2")
    assert conflict.value.type == "PortNotBoundToHost" and conflict.value.status == 409
    (refused,) = api.report_port_statuses("hv2", [(port["id"], "DOWN")])
    assert refused["error"]["type"] == "PortNotBoundToHost"
    (batched,) = api.report_port_statuses("hv1", [(port["id"], "DOWN")])
    assert batched["status"] == "DOWN" and batched["id"] == port["id"]
    api.session._token = api.session.token().__class__(  # a revoked/garbage token: re-auth
        "garbage", api.session.token().expires_at, api.session.token().endpoint, "", ""
    )
    api.delete_port(port["id"])
    with pytest.raises(NotFound) as missing:
        api.get_port(port["id"])
    assert missing.value.type == "PortNotFound" and not missing.value.retryable


def test_transport_errors_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    session = Session(CREDS, http=httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(TransportError) as err:
        Controller(session).list_networks()
    assert err.value.retryable
