"""``neutrino.client`` as a manager uses it: Keystone v2.0 auth (old providers), an explicit
Networking URL instead of the catalog's, the API root and agents, and TLS failures told apart."""

from __future__ import annotations

import ssl

import httpx
import pytest
from fastapi.testclient import TestClient

from neutrino.client import Controller, Credentials, Session, TransportError, Unauthorized
from tests.conftest import ADMIN_PASSWORD


def test_keystone_v2_token_and_catalog(client: TestClient) -> None:
    creds = Credentials(
        auth_url="http://testserver/v2.0",
        username="admin",
        password=ADMIN_PASSWORD,
        project_name="admin",
        keystone_version="v2.0",
    )
    session = Session(creds, http=client)
    token = session.token()
    assert token.project_id and token.endpoint.startswith("http")
    api = Controller(session)
    assert {r["collection"] for r in api.api_root()["resources"]} >= {"networks", "ports"}
    net = api.create_network(name="over-v2")
    assert api.get_network(net["id"])["name"] == "over-v2"
    assert api.list_agents() == []
    bad = Session(
        Credentials(
            auth_url="http://testserver/v2.0",
            username="admin",
            password="wrong",
            project_name="admin",
            keystone_version="v2.0",
        ),
        http=client,
    )
    with pytest.raises(Unauthorized):
        bad.token()


def test_explicit_endpoint_wins_over_the_catalog(client: TestClient) -> None:
    creds = Credentials(
        auth_url="http://testserver/v3",
        username="admin",
        password=ADMIN_PASSWORD,
        project_name="admin",
        endpoint="http://testserver/",
    )
    assert Session(creds, http=client).token().endpoint == "http://testserver"


def test_tls_failures_are_named_and_not_retryable() -> None:
    def untrusted(request: httpx.Request) -> httpx.Response:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    creds = Credentials(auth_url="https://k/v3", username="u", password="p", project_name="p")
    with pytest.raises(TransportError) as err:
        Session(creds, http=httpx.Client(transport=httpx.MockTransport(untrusted))).token()
    assert err.value.tls and not err.value.retryable
    with pytest.raises(TransportError) as err:
        Session(creds, http=httpx.Client(transport=httpx.MockTransport(refused))).token()
    assert not err.value.tls and err.value.retryable
