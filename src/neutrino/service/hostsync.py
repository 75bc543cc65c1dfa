"""Host sync: the long-poll watch of a host's state, and port status reports.

``watch(host, since=R)`` answers a full snapshot (``hoststate.compute``) at once when the
caller has nothing (no ``since``) or a ``since`` this process did not serve (restart, another
replica, a gap); otherwise it waits (bounded, <= ``MAX_TIMEOUT``) until a change *concerning
the host* commits and then returns the new full state (``snapshot: true``, or with ``delta``
the difference from the state served at R), or ``state: null`` with an advanced revision on
timeout.

Waiting costs no thread: a watch awaits ``Store.wait_async`` on the event loop, and the
database is read in worker threads only to look at new changes and to make a state. On a
commit, ``ChangeTail`` (``service.changetail``) reads the new change-log rows once for all
the watchers of the process (one query, whatever their number), and each watcher sorts them
in memory (``may_concern``):

- a port's status report (op ``status``) concerns nobody: no host state carries a status;
- agents and security groups or rules concern every host (tunnel endpoints, rule sets);
  routers and floating IPs every L3 host (``l3_hoststate.concerns_l3`` in the database);
- a change naming a network concerns the hosts that had it when last served;
- a port change concerns the host the port is bound to now, and any host whose served state
  resolves remote groups (membership may have moved).

Only then is the new state made: from the changed items alone (``service.hostdelta``: the
change-log rows since the revision the host holds, applied to the wire form this process
served it, which ``hostserved`` keeps), or, when the changes demand it (not only ports, too
many, a gap, a body this process does not hold), recomputed whole (``service.hoststate``)
and compared by digest. A change to network A never wakes hosts without A, and a no-op
never wakes anyone.

What each host was served is remembered per process (``hostserved``), per cursor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from neutrino.common import clock
from neutrino.common.errors import BadRequest
from neutrino.domain import statedelta
from neutrino.domain.hoststate import HostState
from neutrino.service import hostdelta, l3_hoststate, port_status
from neutrino.service.agents import require_agent_role
from neutrino.service.changes import Interest
from neutrino.service.changetail import Change, ChangeTail
from neutrino.service.context import RequestContext
from neutrino.service.hostserved import Served, ServedMemory
from neutrino.service.hoststate import compute
from neutrino.service.ports import PortService
from neutrino.store import changelog
from neutrino.store.changes import Op, Resource, kinds
from neutrino.store.uow import Store

MAX_TIMEOUT = 60.0
MAX_LOGGED = 256  # changes since the served state: more, and the state is recomputed whole
PORT_STATUSES = port_status.PORT_STATUSES
# changes that may concern any host: tunnel endpoints, security-group definitions and the
# address groups their rules name,
# and QoS policies (their rules shape the ports, networks and floating IPs that name them: the
# digest decides which hosts really changed)
GLOBAL_TYPES = frozenset(
    {"agent", "security_group", "security_group_rule", "qos_policy", "address_group"}
)
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
        Resource.QOS_POLICY,
        Resource.PORT_FORWARDING,
        Resource.ADDRESS_GROUP,
        ops=(Op.CREATE, Op.UPDATE, Op.DELETE),
    ),
    ignored=kinds(
        Resource.RBAC_POLICY,
        Resource.QUOTA,
        Resource.DEFAULT_SECURITY_GROUP_RULE,
        Resource.SUBNETPOOL,  # pools and scopes are API-only: no host state names them
        Resource.ADDRESS_SCOPE,
        # which hosts run a router and which is VRRP master: the router's ports (re)bound
        # and its HA ports are logged as port changes of their own; keepalived, not the host
        # state, decides who is master
        Resource.ROUTER_L3_AGENT,
        # a trunk's effect on hosts is its sub-ports' bindings, logged as port changes; a
        # segment's (the first one) lives on its network's row, logged as a network change
        Resource.TRUNK,
        Resource.SEGMENT,
        # API-only catalogue entries; the provider a router's flavor picks (``ha``) is its
        # own column, logged as a router change
        Resource.FLAVOR,
        Resource.SERVICE_PROFILE,
        # ranges only choose ids for networks yet to be made (logged as network changes)
        Resource.NETWORK_SEGMENT_RANGE,
    )
    | STATUS_REPORTS,
)


@dataclass(frozen=True)
class Fresh:
    """A new state of a host at ``revision``: its wire form and digest, and ``delta`` from the
    body served at ``since`` when it was built from that one (``service.hostdelta``)."""

    revision: int
    body: dict[str, Any] = field(repr=False)  # a whole host: never in a log line
    digest: str
    delta: dict[str, Any] | None = field(default=None, repr=False)
    since: int | None = None


@dataclass(frozen=True)
class WatchResult:
    host: str
    revision: int
    # None: nothing concerning the host changed before the timeout; not in the repr (a whole
    # host: asyncio's SIGINT handler reprs the task holding it, 50 ms at 1,000 ports)
    body: dict[str, Any] | None = field(repr=False)
    delta: dict[str, Any] | None = field(default=None, repr=False)  # set: send this instead
    digest: str | None = None

    @property
    def state(self) -> HostState | None:
        return None if self.body is None else HostState.from_dict(self.body)

    def to_dict(self) -> dict[str, Any]:
        if self.delta is not None:
            return {
                "host": self.host,
                "revision": self.revision,
                "snapshot": False,
                "state": None,
                "delta": self.delta,
                "digest": self.digest,
            }
        return {
            "host": self.host,
            "revision": self.revision,
            "snapshot": self.body is not None,
            "state": self.body,
        }


def may_concern(changes: Iterable[Change], host: str, served: Served) -> bool:
    """The in-memory sort of new changes for one watcher (see the module docstring)."""
    for _, rtype, op, net, bound, *_ in changes:
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
    if any(c[1] == Resource.FLOATINGIP.type and c[3] in served.networks for c in changes):
        return True  # a floating IP is announced (l2pop) on its network's other hosts too
    return l3_hoststate.concerns_l3(conn, host, [(c[1], c[3]) for c in changes])


@dataclass(eq=False)
class _Parked:
    """A watch asleep until its host may have changed."""

    host: str
    served: Served
    cursor: int
    woken: asyncio.Future[None]


class HostSyncService:
    def __init__(self, store: Store, ports: PortService) -> None:
        self.store = store
        self.ports = ports
        self.tail = ChangeTail(store)
        self.memory = ServedMemory()
        self._parked: dict[asyncio.AbstractEventLoop, set[_Parked]] = {}
        self._dispatchers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    # --- host state

    def snapshot(self, ctx: RequestContext, host: str) -> HostState:
        require_agent_role(ctx, "get_host_state")
        return HostState.from_dict(self._snapshot(host).body)

    def _snapshot(self, host: str) -> Fresh:
        with self.store.read() as conn:
            state = compute(conn, host, changelog.latest(conn), self.ports.dns)
        body = state.to_dict()
        fresh = Fresh(state.revision, body, state.digest(body))
        self._keep(host, fresh)
        return fresh

    def _keep(self, host: str, fresh: Fresh) -> None:
        self.memory.keep_body(host, fresh.revision, fresh.body)
        self.memory.remember(host, fresh.revision, Served.of(fresh.body, fresh.digest))

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
        served = None if since is None else self.memory.recall(host, since)
        if since is None or served is None:
            fresh = await asyncio.to_thread(self._snapshot, host)
            return await asyncio.to_thread(self._send, host, since, fresh, delta)
        cursor = since
        deadline = time.monotonic() + clock.bounded_wait(timeout, MAX_TIMEOUT)
        while True:
            await self.tail.refresh()
            found = self.tail.after(cursor)
            if found is None or may_concern(found[1], host, served):
                step = await asyncio.to_thread(self._step, host, since, cursor, served, found)
                if isinstance(step, Fresh):
                    return await asyncio.to_thread(self._send, host, since, step, delta)
                cursor = step
            else:
                cursor = found[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.store.closing:  # closing: the server is stopping
                self.memory.remember(host, cursor, served)
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
        self,
        host: str,
        since: int,
        cursor: int,
        served: Served,
        found: tuple[int, list[Change]] | None,
    ) -> Fresh | int:
        """A new state for ``host`` if the changes after ``cursor`` altered it (or a revision
        from another database came: start over), else the revision looked up to. The new
        state is built from the changes after ``cursor`` when this process holds what it
        served at ``since`` (``hostdelta``), else recomputed whole."""
        with self.store.read() as conn:
            if found is None:
                rows = changelog.with_hosts(conn, cursor)
                upto = rows[-1][0] if rows else changelog.latest(conn)
                found = (upto, [tuple(r) for r in rows])
            upto, changes = found
            if upto >= cursor and not concerns(conn, host, served, changes):
                return upto
            base = self.memory.body(host, since) if upto >= cursor else None
            fresh = None if base is None else self._advance(conn, host, since, cursor, base, served)
            if isinstance(fresh, int):
                return max(fresh, upto)
            if fresh is None:
                state = compute(conn, host, upto, self.ports.dns)
                body = state.to_dict()
                fresh = Fresh(upto, body, state.digest(body))
                if upto >= cursor and fresh.digest == served.digest:
                    return upto
        self._keep(host, fresh)
        return fresh

    def _advance(
        self, conn: Any, host: str, since: int, cursor: int, base: dict[str, Any], served: Served
    ) -> Fresh | int | None:
        """The state built from the changes logged after ``cursor`` (read in this
        transaction, so the items and the revision agree), as a delta from ``base`` (served
        at ``since``); the revision looked up to when they changed nothing; None: they need
        a full recompute. The changes from ``since`` to ``cursor`` left the host's state as
        it was (the cursor only moves past such changes; a timeout relabels the body with it
        on the same ground), so they are not read again: after a long wait over other hosts'
        changes and status reports, more than ``MAX_LOGGED`` of them forced a whole
        recompute and diff (``bench/agentscale.py``'s first change after a 5,000-port fill
        paid one)."""
        rows = changelog.with_hosts(conn, cursor)
        if not rows or len(rows) > MAX_LOGGED:
            return None
        label = int(rows[-1][0])
        delta = hostdelta.advance(conn, host, base, rows, label, self.ports.dns)
        if delta is None:
            return None
        if not delta["upsert"] and not delta["remove"]:
            return label
        body = statedelta.patch(base, delta)
        digest = statedelta.advance_digest(served.digest, base, delta)
        return Fresh(label, body, digest, delta, since)

    def _send(
        self,
        host: str,
        since: int | None,
        fresh: Fresh | None,
        delta: bool,
        revision: int | None = None,
    ) -> WatchResult:
        """The answer, keeping its wire form for later deltas: a delta against what was
        served at ``since`` when asked for and held, else the state (or ``None``: the same
        content, relabelled ``revision``). ``fresh`` is kept already (``_keep``)."""
        before = None if since is None else self.memory.body(host, since)
        if fresh is None:
            assert revision is not None
            if before is not None:
                self.memory.keep_body(host, revision, before)
            return WatchResult(host, revision, None)
        if delta and before is not None and fresh.revision != since:
            made = fresh.delta if fresh.since == since else None
            change = made if made is not None else statedelta.diff(before, fresh.body)
            return WatchResult(host, fresh.revision, fresh.body, change, fresh.digest)
        return WatchResult(host, fresh.revision, fresh.body)

    # --- port status

    def report_status(
        self, ctx: RequestContext, port_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """The agent on the port's host reports it wired (ACTIVE) or unwired (DOWN)
        (``port_status.set_status``)."""
        require_agent_role(ctx, "update_port_status")
        status, host = port_status.validated(body)
        return self.store.write(lambda tx: port_status.set_status(tx, port_id, status, host))

    def report_statuses(self, ctx: RequestContext, items: object) -> list[dict[str, Any]]:
        """Many ports' reports in one transaction (``port_status.report_many``)."""
        return port_status.report_many(self.store, ctx, items)

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
        return revision, self.ports.status(ctx, port_id)
