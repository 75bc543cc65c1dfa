"""A live neutrino on a free loopback port: uvicorn in a daemon thread with the server's own
connection limits (``api.connections``), bootstrapped with the test admin password, its
catalog advertising the real port (so clients that follow the catalog, like openstacksdk and
the ``openstack`` CLI, come back to this server).

Shared by every test that needs real HTTP (the ``live_url`` fixture in tests/conftest.py).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import uvicorn

from neutrino.api.app import Extension, create_app
from neutrino.api.connections import server_options
from neutrino.common.settings import Settings
from neutrino.store.uow import Store
from tests.conftest import ADMIN_PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(
    settings: Settings, store: Store, extensions: Sequence[Extension] = ()
) -> Iterator[str]:
    """Serve ``store`` over HTTP until the block ends; yields the base URL (no trailing /).
    ``extensions``: bounded contexts mounted on the same app (the vmm)."""
    port = free_port()
    settings = settings.model_copy(update={"listen": f"127.0.0.1:{port}"})
    app = create_app(settings, store, extensions)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", **server_options(settings)
        )
    )
    thread = threading.Thread(target=server.run, name=f"neutrino-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("live neutrino server did not start")
        time.sleep(0.02)
    app.state.services.identity.bootstrap(ADMIN_PASSWORD)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
