"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when
``NEUTRINO_TEST_PG_URL`` is set), the app on it, and API callers with real tokens.

``api`` is the admin of project ``admin``; ``api.as_member(name)`` returns a caller holding the
``member`` role in its own new project (``as_reader`` the ``reader`` role), all obtained through
the real Keystone-compatible endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from neutrino.api.app import create_app
from neutrino.common.settings import Settings
from neutrino.store.models import Base
from neutrino.store.uow import Store
from tests.rootns import RootWatch

# Hypothesis's timing checks (a test example over 200 ms, input generation "too slow") fail
# property tests on a loaded machine while proving nothing about the code: off for the suite.
# Examples, shrinking and every other health check stay as they were.
hypothesis_settings.register_profile(
    "suite", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("suite")

ADMIN_PASSWORD = "test-admin-secret"
PG_URL = os.environ.get("NEUTRINO_TEST_PG_URL", "")
BACKENDS = ["sqlite", "postgres"] if PG_URL else ["sqlite"]


def _fresh_pg(url: str) -> str:
    """A new empty database on the server named by ``url`` (dropped at teardown)."""
    name = "neutrino_t_" + uuid.uuid4().hex[:12]
    admin = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def _drop_pg(url: str, db_url: str) -> None:
    name = db_url.rsplit("/", 1)[1]
    admin = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'neutrino.db'}"
    else:
        url = _fresh_pg(PG_URL)
        yield url
        _drop_pg(PG_URL, url)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        db=db_url,
        listen="127.0.0.1:9696",
        token_key="test-key",
        admin_password=ADMIN_PASSWORD,
    )


@pytest.fixture(scope="session")
def schema_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The schema made once per test process, to copy: an SQLite file, and a PostgreSQL
    database to clone (``CREATE DATABASE ... TEMPLATE``). ``create_all`` took 0.15 to 0.7 s of
    every test's setup, the largest share after the app itself."""
    path = tmp_path_factory.mktemp("schema") / "template.db"
    made = Store(f"sqlite:///{path}")
    Base.metadata.create_all(made.engines.write)
    made.dispose()
    templates = {"sqlite": str(path)}
    if PG_URL:
        url = _fresh_pg(PG_URL)
        made = Store(url)
        Base.metadata.create_all(made.engines.write)
        made.dispose()
        templates["postgres"] = url.rsplit("/", 1)[1]
    yield templates
    if PG_URL:
        _drop_pg(PG_URL, PG_URL.rsplit("/", 1)[0] + "/" + templates["postgres"])


def _from_template(db_url: str, templates: dict[str, str]) -> None:
    """Give the (still unused) database at ``db_url`` the template's schema."""
    if db_url.startswith("sqlite:///"):
        target = Path(db_url.removeprefix("sqlite:///"))
        if not target.exists():
            shutil.copyfile(templates["sqlite"], target)
        return
    name = db_url.rsplit("/", 1)[1]
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{templates["postgres"]}"'))
    admin.dispose()


@pytest.fixture
def store(settings: Settings, schema_templates: dict[str, str]) -> Iterator[Store]:
    _from_template(settings.db_url, schema_templates)
    s = Store(settings.db_url)
    Base.metadata.create_all(s.engines.write)  # a no-op on the copy: every table is there
    yield s
    s.dispose()


class Caller:
    """An HTTP client bound to one token."""

    def __init__(self, client: TestClient, token: str, project_id: str, user_id: str) -> None:
        self.client = client
        self.token = token
        self.project_id = project_id
        self.user_id = user_id

    def _h(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"X-Auth-Token": self.token, **(headers or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self._h(kw.pop("headers", None)), **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post(path, json=body, headers=self._h(kw.pop("headers", None)), **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.client.put(path, json=body, headers=self._h(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers=self._h(kw.pop("headers", None)), **kw)

    # Convenience creators that assert success, for tests about something else.
    def create(self, collection: str, member: str, **attrs: Any) -> dict[str, Any]:
        r = self.post(f"/v2.0/{collection}", {member: attrs})
        assert r.status_code == 201, r.text
        return r.json()[member]  # type: ignore[no-any-return]

    def network(self, **attrs: Any) -> dict[str, Any]:
        return self.create("networks", "network", **attrs)

    def subnet(self, network_id: str, cidr: str, **attrs: Any) -> dict[str, Any]:
        version = 6 if ":" in cidr else 4
        return self.create(
            "subnets",
            "subnet",
            network_id=network_id,
            cidr=cidr,
            ip_version=attrs.pop("ip_version", version),
            **attrs,
        )

    def port(self, network_id: str, **attrs: Any) -> dict[str, Any]:
        return self.create("ports", "port", network_id=network_id, **attrs)

    def as_role(self, role: str, project_id: str | None = None) -> Caller:
        """A new user with ``role`` on ``project_id`` (or on a new project)."""
        suffix = uuid.uuid4().hex[:8]
        if project_id is None:
            r = self.post(
                "/v3/projects", {"project": {"name": f"p-{suffix}", "domain_id": "default"}}
            )
            assert r.status_code == 201, r.text
            project_id = r.json()["project"]["id"]
        r = self.post(
            "/v3/users",
            {"user": {"name": f"u-{suffix}", "password": "pw-" + suffix, "domain_id": "default"}},
        )
        assert r.status_code == 201, r.text
        user_id = r.json()["user"]["id"]
        roles = {x["name"]: x["id"] for x in self.get("/v3/roles").json()["roles"]}
        r = self.put(f"/v3/projects/{project_id}/users/{user_id}/roles/{roles[role]}")
        assert r.status_code == 204, r.text
        return token_caller(self.client, {"id": user_id}, "pw-" + suffix, {"id": project_id})

    def as_member(self) -> Caller:
        return self.as_role("member")

    def as_reader(self, project_id: str) -> Caller:
        return self.as_role("reader", project_id)


def token_caller(
    client: TestClient, user: dict[str, Any], password: str, project: dict[str, Any]
) -> Caller:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {**user, "password": password}},
            },
            "scope": {"project": project},
        }
    }
    r = client.post("/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    return Caller(client, r.headers["X-Subject-Token"], token["project"]["id"], token["user"]["id"])


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    app = create_app(settings, store)
    with TestClient(app) as c:
        c.app.state.services.identity.bootstrap(ADMIN_PASSWORD)  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def api(client: TestClient) -> Caller:
    return token_caller(
        client,
        {"name": "admin", "domain": {"name": "Default"}},
        ADMIN_PASSWORD,
        {"name": "admin", "domain": {"name": "Default"}},
    )


@pytest.fixture
def live_url(settings: Settings, store: Store) -> Iterator[str]:
    """The app served over real HTTP on a free loopback port (see tests/live.py)."""
    from tests.live import live_server  # here, not at the top: tests.live imports this module

    with live_server(settings, store) as url:
        yield url


# --- the longest tests first -----------------------------------------------------------------
# xdist (``-n 2 --dist loadfile --no-loadscope-reorder``, see pyproject.toml) gives the next
# file to whichever worker is free, in collection order. The e2e labs and the kernel tests,
# minutes each on a loaded machine, came after the API tests, so a run could end with one
# worker deep in a lab while the other had nothing left. Started first, they run beside the
# quick tests, which then fill both workers to the end. Whole modules move (a stable sort by
# file), so module-scoped fixtures still see their tests together.

# The longest files, longest first (seconds summed over their tests in the last full run,
# 2 cores at load 15-18; see docs/development.md), then tests/e2e, then tests/kernel.
SLOW_FILES = (
    "tests/api/test_port_forwardings.py",  # 1037
    "tests/api/test_change_log_complete.py",  # 773, one test 342
    "tests/api/test_floatingips.py",  # 594
    "tests/api/test_default_sg_rules.py",  # 443
    "tests/api/test_qos.py",  # 411
    "tests/api/test_dhcp_agent_scheduler.py",  # 385
    "tests/api/test_metrics.py",  # 326
    "tests/api/test_ports.py",  # 305
    "tests/api/test_networks.py",  # 293
    "tests/api/test_limits.py",  # 208
    "tests/api/test_pg_races.py",  # 148, one test
    "tests/api/test_concurrency.py",  # 150
    "tests/api/test_fuzz.py",
    "tests/api/test_schemathesis.py",
    "tests/cli/test_cli_serve.py",  # 115 s for one test on its own
)


def _start_rank(item: pytest.Item) -> int:
    path = Path(str(item.path)).as_posix()
    for rank, slow in enumerate(SLOW_FILES):
        if path.endswith(slow):
            return rank
    if "/tests/e2e/" in path:
        return len(SLOW_FILES)
    if "/tests/kernel/" in path:
        return len(SLOW_FILES) + 1
    return len(SLOW_FILES) + 2


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_start_rank)  # stable: modules stay whole, their order kept


# --- Playwright's loop and pyroute2 in one test worker --------------------------------------
# Playwright's sync API (the session-scoped ``chromium`` fixture of tests/web) leaves its
# asyncio loop marked as running on the worker's main thread between its calls, and
# pyroute2's synchronous IPRoute refuses to work in a thread where a loop runs. So once a
# worker has run a browser test, every later kernel or agent test on it failed. Tests that do
# not use the browser run with the mark cleared, and it is put back before Playwright runs
# again (its session teardown comes with the last item's teardown, hence ``nextitem``).


@contextlib.contextmanager
def _no_running_loop() -> Iterator[None]:
    loop = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(loop)


def _uses_browser(item: pytest.Item) -> bool:
    return "chromium" in getattr(item, "fixturenames", ())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with contextlib.nullcontext() if _uses_browser(item) else _no_running_loop():
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with contextlib.nullcontext() if _uses_browser(item) else _no_running_loop():
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    clear = not _uses_browser(item) and nextitem is not None
    with _no_running_loop() if clear else contextlib.nullcontext():
        yield


# --- nothing of ours left in the namespace the tests run in ----------------------------------
# Kernel tests build in namespaces of their own. A device or nft table of ours (tests/rootns.py)
# that appears in the run's own namespace during a test and is still there after it fails that
# test; one that appears during the session (a thread outliving its test) fails the last one.


@pytest.fixture(scope="session")
def _root_watch() -> Iterator[RootWatch | None]:
    watch = RootWatch.open()
    start = watch.ours() if watch is not None else frozenset()
    yield watch
    if watch is not None:
        left = watch.ours() - start
        watch.close()
        if left:
            pytest.fail(f"left in the tests' own network namespace during the run: {sorted(left)}")


@pytest.fixture(autouse=True)
def _nothing_left_in_root(_root_watch: RootWatch | None) -> Iterator[None]:
    if _root_watch is None:
        yield
        return
    before = _root_watch.ours()
    yield
    left = _root_watch.ours() - before
    if left:
        pytest.fail(
            "left in the tests' own network namespace by this test (or one running beside it "
            f"on another worker): {sorted(left)}; build in a namespace of the test's own"
        )
