"""Host sync: the long-poll watch of a host's state, and port status reports.

``watch(host, since=R)`` answers a full snapshot (``hoststate.compute``) at once when the
caller has nothing (no ``since``) or a ``since`` this process did not serve (restart, another
replica, a gap); otherwise it waits (bounded, <= ``MAX_TIMEOUT``) until a change *concerning
the host* commits and then returns the new full state (``snapshot: true``, or with ``delta``
the difference from the state served at R), or ``state: null`` with an advanced revision on
timeout.

Waiting costs no thread: a watch awaits ``Store.wait_async`` on the event loop, and the
database is read in worker threads only to look at new changes and to compute a state. On a
commit, ``ChangeTail`` reads the new change-log rows once for all the watchers of the process
(one query, whatever their number), and each watcher sorts them in memory (``may_concern``):

- a port's status report (op ``status``) concerns nobody: no host state carries a status;
- agents and security groups or rules concern every host (tunnel endpoints, rule sets);
  routers and floating IPs every L3 host (``l3_hoststate.concerns_l3`` in the database);
- a change naming a network concerns the hosts that had it when last served;
- a port change concerns the host the port is bound to now, and any host whose served state
  resolves remote groups (membership may have moved).

Only then is the state recomputed (``service.hoststate``), and it is returned only if its
content digest differs from the one served at R: a change to network A never wakes hosts
without A, and a no-op never wakes anyone.

Served (host, revision) -> ``Served`` are remembered in a bounded LRU, per process: several
agents on one host (L2 + DHCP) each keep their own cursor.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import BadRequest, NamedConflict, ResourceNotFound
from neutrino.domain import statedelta
from neutrino.domain.hoststate import VIF_BRIDGE, HostState
from neutrino.service import l3_hoststate
from neutrino.service.agents import require_agent_role
from neutrino.service.changes import Interest
from neutrino.service.context import RequestContext
from neutrino.service.hoststate import compute
from neutrino.service.ports import PortService
from neutrino.store import changelog, locks
from neutrino.store import hostsync as repo
from neutrino.store.changes import Op, Resource, kinds
from neutrino.store.uow import Store, Tx

MAX_TIMEOUT = 60.0
SERVED_CACHE = 16384  # (host, revision) pairs: two or more for each watching agent
BODY_CACHE = 2048
BODIES_PER_HOST = 2
TAIL = 20_000  # change-log rows kept in memory for the watchers
PORT_STATUSES = ("ACTIVE", "DOWN")
# changes that may concern any host: tunnel endpoints, security-group definitions
GLOBAL_TYPES = frozenset({"agent", "security_group", "security_group_rule"})
# An agent's status report changes no host's state (status is not in it): it wakes no watch.
STATUS_REPORTS = kinds(*Resource, ops=(Op.STATUS,))
# The rest concern the hosts of the network they name, or L3 hosts (routers, floating IPs);
# policies change who sees a network (its own update is logged); quotas, templates, pools and
# scopes nothing.
INTEREST = Interest(
    "host state",
    invalidating=kinds(
        Resource.AGENT,
        Resource.SECURITY_GROUP,
        Resource.SECURITY_GROUP_RULE,
        Resource.NETWORK,
        Resource.SUBNET,
        Resource.PORT,
        Resource.ROUTER,
        Resource.FLOATINGIP,
        ops=(Op.CREATE, Op.UPDATE, Op.DELETE),
    ),
    ignored=kinds(
        Resource.RBAC_POLICY,
        Resource.QUOTA,
        Resource.DEFAULT_SECURITY_GROUP_RULE,
        Resource.SUBNETPOOL,  # pools and scopes are API-only: no host state names them
        Resource.ADDRESS_SCOPE,
        # a trunk's effect on hosts is its sub-ports' bindings, logged as port changes; a
        # segment's (the first one) lives on its network's row, logged as a network change
        Resource.TRUNK,
        Resource.SEGMENT,
    )
    | STATUS_REPORTS,
)


Change = tuple[int, str, str, str | None, str | None]  # see ``changelog.with_hosts``


@dataclass(frozen=True)
class Served:
    """What a host was handed at a revision, as much as the watch needs to sort changes."""

    networks: frozenset[str]
    digest: str
    remote_groups: bool

    @classmethod
    def of(cls, state: HostState) -> Served:
        return cls(state.network_ids, state.digest(), bool(state.remote_groups))


@dataclass(frozen=True)
class WatchResult:
    host: str
    revision: int
    state: HostState | None  # None: nothing concerning the host changed before the timeout
    delta: dict[str, Any] | None = None  # set: send this instead of the state (statedelta)
    body: dict[str, Any] | None = None  # ``state.to_dict()`` when already made

    def to_dict(self) -> dict[str, Any]:
        if self.delta is not None:
            assert self.state is not None
            return {
                "host": self.host,
                "revision": self.revision,
                "snapshot": False,
                "state": None,
                "delta": self.delta,
                "digest": self.state.digest(),
            }
        body = self.body
        if body is None and self.state is not None:
            body = self.state.to_dict()
        return {
            "host": self.host,
            "revision": self.revision,
            "snapshot": self.state is not None,
            "state": body,
        }


def may_concern(changes: Iterable[Change], host: str, served: Served) -> bool:
    """The in-memory sort of new changes for one watcher (see the module docstring)."""
    for _, rtype, op, net, bound in changes:
        if INTEREST.ignores(rtype, op):
            continue
        if rtype in GLOBAL_TYPES or rtype in l3_hoststate.ROUTER_TYPES:
            return True
        if (net is not None and net in served.networks) or (
            rtype == "port" and (bound == host or served.remote_groups)
        ):
            return True
    return False


def concerns(conn: Any, host: str, served: Served, changes: list[Change]) -> bool:
    """``may_concern``, with routers and floating IPs only for a host running an L3 agent."""
    if may_concern((c for c in changes if c[1] not in l3_hoststate.ROUTER_TYPES), host, served):
        return True
    return l3_hoststate.concerns_l3(conn, host, [(c[1], c[3]) for c in changes])


@dataclass(eq=False)
class _Parked:
    """A watch asleep until its host may have changed."""

    host: str
    served: Served
    cursor: int
    woken: asyncio.Future[None]


class ChangeTail:
    """The newest change-log rows, read once per commit for every watcher of the process.

    ``rows`` hold every change with ``base < revision <= latest``, oldest first, at most
    ``TAIL``; a watcher further behind reads the database itself. Reads run in a worker
    thread, one at a time per event loop; the others await it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: list[Change] = []
        self.base: int | None = None
        self.latest = 0
        self._read_at = -1  # the ``store.changed`` generation the rows are at least as new as
        self._lock = threading.Lock()
        self._reading: dict[asyncio.AbstractEventLoop, asyncio.Future[None]] = {}

    async def refresh(self) -> None:
        loop = asyncio.get_running_loop()
        while self._read_at < self.store.changed.generation:
            reading = self._reading.get(loop)
            if reading is None or reading.done():
                reading = self._reading[loop] = asyncio.ensure_future(asyncio.to_thread(self._read))
            await asyncio.shield(reading)

    def _read(self) -> None:
        with self._lock:
            generation = self.store.changed.generation
            with self.store.read() as conn:
                if self.base is None:
                    self.base = self.latest = changelog.latest(conn)
                new = [tuple(r) for r in changelog.with_hosts(conn, self.latest)]
            if new:
                self.rows.extend(new)
                self.latest = new[-1][0]
            if len(self.rows) > TAIL:
                self.base = self.rows[-TAIL - 1][0]
                del self.rows[:-TAIL]
            self._read_at = max(self._read_at, generation)

    def after(self, cursor: int) -> tuple[int, list[Change]] | None:
        """(revision looked up to, changes after ``cursor``), or None when the rows do not
        reach back that far."""
        if self.base is None or cursor < self.base:
            return None
        if cursor >= self.latest:  # a database read already saw past our rows: nothing yet
            return cursor, []
        first = next(
            (i for i in range(len(self.rows) - 1, -1, -1) if self.rows[i][0] <= cursor), -1
        )
        return self.latest, self.rows[first + 1 :]


class HostSyncService:
    def __init__(self, store: Store, ports: PortService) -> None:
        self.store = store
        self.ports = ports
        self.tail = ChangeTail(store)
        self._parked: dict[asyncio.AbstractEventLoop, set[_Parked]] = {}
        self._dispatchers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._served: OrderedDict[tuple[str, int], Served] = OrderedDict()
        self._lock = threading.Lock()
        # wire forms served lately, for deltas (see ``_keep_body``)
        self._bodies: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._body_revisions: dict[str, list[int]] = {}

    # --- served-state memory

    def _remember(self, host: str, revision: int, served: Served) -> None:
        with self._lock:
            self._served[(host, revision)] = served
            self._served.move_to_end((host, revision))
            while len(self._served) > SERVED_CACHE:
                self._served.popitem(last=False)

    def _recall(self, host: str, revision: int) -> Served | None:
        with self._lock:
            return self._served.get((host, revision))

    def _body(self, host: str, revision: int) -> dict[str, Any] | None:
        with self._lock:
            return self._bodies.get((host, revision))

    def _keep_body(self, host: str, revision: int, body: dict[str, Any]) -> None:
        """Remember what ``host`` was served at ``revision``: the last ``BODIES_PER_HOST``
        revisions of each host (a watcher asks with the latest; a second watcher of the host
        may still hold the one before), ``BODY_CACHE`` in all, least recently used out."""
        with self._lock:
            revisions = self._body_revisions.setdefault(host, [])
            if revision not in revisions:
                revisions.append(revision)
            while len(revisions) > BODIES_PER_HOST:
                self._bodies.pop((host, revisions.pop(0)), None)
            self._bodies[(host, revision)] = body
            self._bodies.move_to_end((host, revision))
            while len(self._bodies) > BODY_CACHE:
                (old_host, old_revision), _ = self._bodies.popitem(last=False)
                kept = self._body_revisions.get(old_host, [])
                if old_revision in kept:
                    kept.remove(old_revision)

    # --- host state

    def snapshot(self, ctx: RequestContext, host: str) -> HostState:
        require_agent_role(ctx, "get_host_state")
        with self.store.read() as conn:
            state = compute(conn, host, changelog.latest(conn))
        self._remember(host, state.revision, Served.of(state))
        return state

    async def watch(
        self,
        ctx: RequestContext,
        host: str,
        since: int | None,
        timeout: float,
        *,
        delta: bool = False,
    ) -> WatchResult:
        """Waits up to ``timeout`` seconds (clamped to [0, 60]); see the module docstring.
        With ``delta``, a new state is sent as the difference from the one served at
        ``since`` when this process still holds that one (else as a snapshot)."""
        require_agent_role(ctx, "get_host_state")
        served = None if since is None else self._recall(host, since)
        if since is None or served is None:
            state = await asyncio.to_thread(self.snapshot, ctx, host)
            return await asyncio.to_thread(self._send, host, since, state, delta)
        cursor = since
        deadline = time.monotonic() + clock.bounded_wait(timeout, MAX_TIMEOUT)
        while True:
            await self.tail.refresh()
            found = self.tail.after(cursor)
            if found is None or may_concern(found[1], host, served):
                step = await asyncio.to_thread(self._step, host, cursor, served, found)
                if isinstance(step, HostState):
                    return await asyncio.to_thread(self._send, host, since, step, delta)
                cursor = step
            else:
                cursor = found[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.store.closing:  # closing: the server is stopping
                self._remember(host, cursor, served)
                return self._send(host, since, None, delta, cursor)
            cursor = await self._park(host, served, cursor, remaining)

    async def _park(self, host: str, served: Served, cursor: int, timeout: float) -> int:
        """Sleep until a change may concern ``host`` (or ``timeout``); the cursor the loop's
        dispatcher advanced it to meanwhile. Sleepers cost no wake-up for a change that
        does not concern them: ``_dispatch`` sorts it for all of them in one pass."""
        loop = asyncio.get_running_loop()
        parked = _Parked(host, served, cursor, loop.create_future())
        group = self._parked.setdefault(loop, set())
        group.add(parked)
        dispatcher = self._dispatchers.get(loop)
        if dispatcher is None or dispatcher.done():
            self._dispatchers[loop] = loop.create_task(self._dispatch(group))
        try:
            await asyncio.wait_for(parked.woken, timeout)
        except TimeoutError:
            pass
        finally:
            group.discard(parked)
        return parked.cursor

    async def _dispatch(self, group: set[_Parked]) -> None:
        while group:
            seen = self.store.changed.generation
            await self.tail.refresh()
            for parked in list(group):
                found = self.tail.after(parked.cursor)
                if (
                    self.store.closing
                    or found is None
                    or may_concern(found[1], parked.host, parked.served)
                ):
                    if not parked.woken.done():
                        parked.woken.set_result(None)
                else:
                    parked.cursor = found[0]
            await self.store.wait_async(seen, 1.0)

    def _step(
        self, host: str, cursor: int, served: Served, found: tuple[int, list[Change]] | None
    ) -> HostState | int:
        """A new state for ``host`` if the changes after ``cursor`` altered it (or a revision
        from another database came: start over), else the revision looked up to."""
        with self.store.read() as conn:
            if found is None:
                rows = changelog.with_hosts(conn, cursor)
                upto = rows[-1][0] if rows else changelog.latest(conn)
                found = (upto, [tuple(r) for r in rows])
            upto, changes = found
            if upto < cursor:
                state = compute(conn, host, upto)
            else:
                if not concerns(conn, host, served, changes):
                    return upto
                state = compute(conn, host, upto)
                if state.digest(body := state.to_dict()) == served.digest:
                    return upto
                self._keep_body(host, upto, body)  # made once: ``_send`` finds it
        self._remember(host, upto, Served.of(state))
        return state

    def _send(
        self,
        host: str,
        since: int | None,
        state: HostState | None,
        delta: bool,
        revision: int | None = None,
    ) -> WatchResult:
        """The answer, keeping its wire form for later deltas: a delta against what was
        served at ``since`` when asked for and held, else the state (or ``None``: the same
        content, relabelled ``revision``)."""
        before = None if since is None else self._body(host, since)
        if state is None:
            assert revision is not None
            if before is not None:
                self._keep_body(host, revision, before)
            return WatchResult(host, revision, None)
        body = self._body(host, state.revision) or state.to_dict()
        self._keep_body(host, state.revision, body)
        if delta and before is not None and state.revision != since:
            return WatchResult(host, state.revision, state, statedelta.diff(before, body))
        return WatchResult(host, state.revision, state, body=body)

    # --- port status

    def report_status(
        self, ctx: RequestContext, port_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The agent on the port's host reports it wired (ACTIVE) or unwired (DOWN). A real
        change bumps the port's revision and is recorded, so watchers wake. The port is
        row-locked first (PostgreSQL): a concurrent update or liveness sweep is not lost."""
        require_agent_role(ctx, "update_port_status")
        status, host = body.get("status"), body.get("host")
        if status not in PORT_STATUSES:
            raise BadRequest(f"'status' must be one of {', '.join(PORT_STATUSES)}")
        if not isinstance(host, str) or not host:
            raise BadRequest("'host' must be a non-empty string")

        def tx_fn(tx: Tx) -> dict[str, Any]:
            locks.for_change(tx.conn, "ports", port_id)  # the revision is built on
            row = repo.port_binding(tx.conn, port_id)
            if row is None:
                raise ResourceNotFound("Port", port_id)
            _project, _network_id, bound_host, current, revision, vif_type = row
            if bound_host != host:
                raise NamedConflict(
                    "PortNotBoundToHost", f"Port {port_id} is not bound to host {host}."
                )
            if status == "ACTIVE" and vif_type != VIF_BRIDGE:
                raise NamedConflict(
                    "PortBindingFailed", f"Port {port_id} has no successful binding on {host}."
                )
            if current != status:
                revision = tx.updated(Resource.PORT, port_id, {"status": status}, Op.STATUS)
            return {"id": port_id, "status": status, "revision_number": revision}

        return self.store.write(tx_fn)

    async def wait_port(
        self, ctx: RequestContext, port_id: str, status: str, timeout: float
    ) -> dict[str, Any]:
        """The watchable "vif plugged" event: wait until the port (visible to the caller)
        has ``status`` or ``timeout`` (clamped to [0, 60]) passes."""
        if status not in PORT_STATUSES:
            raise BadRequest(f"'status' must be one of {', '.join(PORT_STATUSES)}")
        deadline = time.monotonic() + clock.bounded_wait(timeout, MAX_TIMEOUT)
        while True:
            seen = self.store.changed.generation
            revision, current = await asyncio.to_thread(self._port_status, ctx, port_id)
            remaining = deadline - time.monotonic()
            if current == status or remaining <= 0 or self.store.closing:
                return {
                    "port_id": port_id,
                    "status": current,
                    "revision": revision,
                    "plugged": current == "ACTIVE",
                    "timed_out": current != status,
                }
            await self.store.wait_async(seen, remaining)

    def _port_status(self, ctx: RequestContext, port_id: str) -> tuple[int, str]:
        revision = self.store.current_revision()
        return revision, self.ports.get(ctx, port_id)["status"]
