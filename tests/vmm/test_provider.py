"""The provider client against a real neutrino over HTTP (tests/live.py): test connection's
answers, Keystone v3 and v2.0, and waiting for a port's ACTIVE event, with and without the
event API."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from neutrino.client import Controller, Credentials, NotFound, Session
from neutrino.vmm.model import Provider
from neutrino.vmm.provider import ProviderClient
from tests.conftest import ADMIN_PASSWORD
from tests.live import free_port
from tests.vmm.tls import untrusted_https


def provider(url: str, **over: str) -> Provider:
    values = {
        "name": "p",
        "url": url,
        "auth_url": url + "/v3",
        "username": "admin",
        "password": ADMIN_PASSWORD,
        "project": "admin",
    }
    values.update(over)
    return Provider(**values)  # type: ignore[arg-type]


def check(p: Provider) -> tuple[str, str]:
    client = ProviderClient(p, timeout=5)
    try:
        result = client.check()
    finally:
        client.close()
    return result.kind, result.message


def test_connection_answers(live_url: str, tmp_path: Path) -> None:
    assert check(provider(live_url))[0] == "ok"
    assert (
        check(provider(live_url, auth_url=live_url + "/v2.0", keystone_version="v2.0"))[0] == "ok"
    )
    # the Networking URL may name the version
    assert check(provider(live_url + "/v2.0/", auth_url=live_url + "/v3"))[0] == "ok"
    kind, message = check(provider(live_url, password="wrong"))
    assert kind == "bad_credentials" and "admin" in message
    dead = f"http://127.0.0.1:{free_port()}"
    kind, message = check(provider(dead, auth_url=dead + "/v3"))
    assert kind == "unreachable" and "Keystone" in message
    # Keystone fine, the Networking URL is not
    kind, message = check(provider(dead, auth_url=live_url + "/v3"))
    assert kind == "unreachable" and "Networking API" in message
    # answers, but 404 on /v2.0/
    kind, _ = check(provider(live_url + "/v3", auth_url=live_url + "/v3"))
    assert kind == "not_networking"
    kind, _ = check(provider(live_url, auth_url=live_url + "/nothing"))
    assert kind == "not_keystone"
    with untrusted_https(tmp_path) as https:
        kind, message = check(provider(https, auth_url=https + "/v3"))
    assert kind == "tls_error" and "TLS" in message


class _NoEventApi(httpx.BaseTransport):
    """A provider without neutrino's event API: its paths answer a plain 404."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/agent/v1/"):
            return httpx.Response(
                404,
                json={
                    "NeutronError": {
                        "type": "HTTPNotFound",
                        "message": "The resource could not be found.",
                        "detail": "",
                    }
                },
            )
        return self.inner.handle_request(request)


def _bound_port(live_url: str) -> tuple[Controller, str]:
    api = Controller(
        Session(
            Credentials(
                auth_url=live_url + "/v3",
                username="admin",
                password=ADMIN_PASSWORD,
                project_name="admin",
            )
        )
    )
    api.report_agent(
        "hv1", {"tunnel_ip": "198.51.100.1", "tunnel_types": ["vxlan"]}, start_flag=True
    )
    net = api.create_network(name="n")
    port = api.create_port(net["id"], **{"binding:host_id": "hv1"})
    return api, port["id"]


def _activate_later(api: Controller, port_id: str, delay: float) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        api.report_port_status(port_id, "ACTIVE", "hv1")

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("events", [True, False], ids=["event-api", "polling"])
def test_wait_active(live_url: str, events: bool) -> None:
    agent, port_id = _bound_port(live_url)
    http = None if events else httpx.Client(transport=_NoEventApi(), timeout=10)
    client = ProviderClient(provider(live_url), http=http)
    assert not client.wait_active(port_id, timeout=0.3).active  # nobody wired it yet
    thread = _activate_later(agent, port_id, 0.3)
    result = client.wait_active(port_id, timeout=10)
    thread.join()
    assert result.active and result.status == "ACTIVE"
    assert result.via_events is events
    assert result.waited < 10
    with pytest.raises(NotFound):
        client.wait_active("00000000-0000-0000-0000-000000000000", timeout=1)
    client.close()
