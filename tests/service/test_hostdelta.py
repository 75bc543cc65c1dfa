"""Host state from events: the delta built from the changed items equals a full recompute.

Random sequences of port creates, updates (binding host, admin state, groups, address
pairs, addresses, a name), deletes and status reports — now and then a rule or a network
change, which must fall back to the full recompute — run through the API on a world with two
live hosts, a host without an agent (its bindings fail), two VXLAN networks, a DHCP port, and
groups whose rules name remote groups (the default group names itself). After each sequence,
for every host: ``patch(base, advance(...))`` must equal ``compute(...)`` at the same revision,
and the delta must carry only items that changed.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neutrino.domain.statedelta import patch
from neutrino.service import hostdelta
from neutrino.service.hoststate import compute
from neutrino.store import changelog
from neutrino.store.uow import Store
from tests.api.test_agent_api import register
from tests.conftest import Caller

HOSTS = ("hv1", "hv2", "hv3")  # hv3 has no agent: a port bound there fails to bind
BINDINGS = ("hv1", "hv2", "hv3", "")

create = st.tuples(
    st.just("create"),
    st.integers(0, 1),  # network
    st.sampled_from(BINDINGS),
    st.integers(0, 3),  # groups: default, web, db, none
    st.booleans(),  # an allowed address pair
)
update = st.tuples(
    st.just("update"),
    st.integers(0, 99),  # which port
    st.sampled_from(["host", "admin", "groups", "pairs", "ips", "name"]),
    st.integers(0, 3),
)
delete = st.tuples(st.just("delete"), st.integers(0, 99))
status = st.tuples(st.just("status"), st.integers(0, 99))
rare = st.tuples(st.sampled_from(["rule", "mtu"]), st.integers(0, 9))
operation = st.one_of(create, create, update, update, delete, status, rare)


class World:
    def __init__(self, api: Caller) -> None:
        self.api = api
        for n, host in enumerate(HOSTS[:2]):
            register(api, host, tunnel_ip=f"198.51.100.{n + 1}")
        self.nets = [api.network(), api.network()]
        self.subnets = [
            api.subnet(self.nets[0]["id"], "192.0.2.0/24"),
            api.subnet(self.nets[1]["id"], "203.0.113.0/24"),
        ]
        default = api.get("/v2.0/security-groups?name=default").json()["security_groups"][0]
        web = api.create("security-groups", "security_group", name="web")
        db = api.create("security-groups", "security_group", name="db")
        self.rule(web["id"], db["id"])
        self.groups: list[list[str]] = [[default["id"]], [web["id"]], [db["id"]], []]
        self.ports: list[dict[str, Any]] = []
        dhcp = {"device_owner": "network:dhcp", "binding:host_id": "hv2"}
        api.port(self.nets[0]["id"], **dhcp)

    def rule(self, group: str, remote: str, port: int | None = None) -> None:
        body = {"security_group_id": group, "direction": "ingress", "ethertype": "IPv4"}
        if port is not None:
            body |= {"protocol": "tcp", "port_range_min": port, "port_range_max": port}
        r = self.api.post(
            "/v2.0/security-group-rules",
            {"security_group_rule": {"remote_group_id": remote, **body}},
        )
        assert r.status_code in (201, 409), r.text  # 409: that rule exists already

    def pick(self, i: int) -> dict[str, Any] | None:
        return self.ports[i % len(self.ports)] if self.ports else None

    def run(self, op: tuple[Any, ...]) -> None:
        api, kind = self.api, op[0]
        if kind == "create":
            _, net, host, groups, pair = op
            attrs: dict[str, Any] = {
                "binding:host_id": host,
                "security_groups": self.groups[groups],
            }
            if pair:
                attrs["allowed_address_pairs"] = [{"ip_address": f"192.0.2.{200 + net}/32"}]
            r = api.post("/v2.0/ports", {"port": {"network_id": self.nets[net]["id"], **attrs}})
            assert r.status_code in (201, 409), r.text  # 409: the subnet is full
            if r.status_code == 201:
                self.ports.append(r.json()["port"])
        elif kind == "rule":
            self.rule(self.groups[2][0], self.groups[op[1] % 3][0], 1000 + op[1])
        elif kind == "mtu":
            api.put(f"/v2.0/networks/{self.nets[0]['id']}", {"network": {"mtu": 1400 - op[1]}})
        elif (port := self.pick(op[1])) is not None:
            path = f"/v2.0/ports/{port['id']}"
            if kind == "delete":
                assert api.delete(path).status_code == 204
                self.ports.remove(port)
            elif kind == "status":
                body = {"port": {"status": "ACTIVE", "host": port["binding:host_id"]}}
                api.post(f"/agent/v1/ports/{port['id']}/status", body)  # refused unless bound
            else:
                r = api.put(path, {"port": self.change(port, op[2], op[3])})
                assert r.status_code == 200, r.text
                self.ports[self.ports.index(port)] = r.json()["port"]

    def change(self, port: dict[str, Any], what: str, n: int) -> dict[str, Any]:
        if what == "host":
            return {"binding:host_id": BINDINGS[n]}
        if what == "admin":
            return {"admin_state_up": not port["admin_state_up"]}
        if what == "groups":
            return {"security_groups": self.groups[n]}
        if what == "pairs":
            return {"allowed_address_pairs": [{"ip_address": f"192.0.2.{210 + n}/32"}][: n % 2]}
        if what == "ips":
            subnet = next(s for s in self.subnets if s["network_id"] == port["network_id"])
            return {"fixed_ips": [{"subnet_id": subnet["id"]}]}
        return {"name": f"renamed-{n}"}


def test_delta_from_the_changes_equals_the_full_recompute(
    api: Caller, client: TestClient, store: Store
) -> None:
    world = World(api)
    taken: list[bool] = []

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(operation, min_size=1, max_size=6))
    def check(ops: list[tuple[Any, ...]]) -> None:
        with store.read() as conn:
            since = changelog.latest(conn)
            base = {h: compute(conn, h, since).to_dict() for h in HOSTS}
        for op in ops:
            world.run(op)
        with store.read() as conn:
            rows = changelog.with_hosts(conn, since)
            label = rows[-1][0] if rows else since
            for host in HOSTS:
                delta = hostdelta.advance(conn, host, base[host], rows, label)
                taken.append(delta is not None)
                if delta is None:
                    continue
                full = compute(conn, host, label).to_dict()
                assert patch(base[host], delta) == full, (host, ops, delta)
                for field, spec in delta["upsert"].items():  # only changed items are sent
                    before = {i[spec["key"]]: i for i in base[host][field]}
                    assert all(before.get(i[spec["key"]]) != i for i in spec["items"])

    check()
    # the incremental path is the common one, not a corner the fallback hides
    assert sum(taken) > len(taken) / 2, (sum(taken), len(taken))


def test_non_port_changes_and_own_section_ports_fall_back(
    api: Caller, client: TestClient, store: Store
) -> None:
    world = World(api)
    with store.read() as conn:
        since = changelog.latest(conn)
        base = compute(conn, "hv2", since).to_dict()
    world.run(("mtu", 3))
    with store.read() as conn:
        rows = changelog.with_hosts(conn, since)
        assert hostdelta.advance(conn, "hv2", base, rows, rows[-1][0]) is None
        since = rows[-1][0]
        base = compute(conn, "hv2", since).to_dict()
    api.port(world.nets[1]["id"], device_owner="network:dhcp", **{"binding:host_id": "hv2"})
    with store.read() as conn:
        rows = changelog.with_hosts(conn, since)
        assert hostdelta.advance(conn, "hv2", base, rows, rows[-1][0]) is None


def test_the_last_remote_port_of_a_network_takes_its_l2pop_item_along(
    api: Caller, client: TestClient, store: Store
) -> None:
    world = World(api)
    world.run(("create", 1, "hv1", 3, False))
    world.run(("create", 1, "hv2", 3, False))
    with store.read() as conn:
        since = changelog.latest(conn)
        base = compute(conn, "hv1", since).to_dict()
    assert [p["network_id"] for p in base["l2pop"]] == [world.nets[1]["id"]]
    world.run(("delete", 1))
    with store.read() as conn:
        rows = changelog.with_hosts(conn, since)
        delta = hostdelta.advance(conn, "hv1", base, rows, rows[-1][0])
        assert delta is not None
        assert delta["remove"]["l2pop"]["keys"] == [world.nets[1]["id"]]
        assert patch(base, delta) == compute(conn, "hv1", rows[-1][0]).to_dict()


def test_a_port_joining_a_remote_group_is_one_member_item(
    api: Caller, client: TestClient, store: Store
) -> None:
    """A new port in a group the host's rules name as remote adds its addresses to the
    delta, one ``remote_members`` item each, and nothing of the group's other members; a
    deleted one takes its items away (the group is read again: its old addresses are not
    logged)."""
    world = World(api)
    for _ in range(6):
        world.run(("create", 0, "hv1", 0, False))  # the default group names itself
    with store.read() as conn:
        since = changelog.latest(conn)
        base = compute(conn, "hv1", since).to_dict()
    assert len(base["remote_members"]) == 7  # the DHCP port is in the default group too
    world.run(("create", 0, "hv2", 0, True))  # a fixed IP and a pair, on the other host
    new = world.ports[-1]
    group = world.groups[0][0]
    with store.read() as conn:
        rows = changelog.with_hosts(conn, since)
        delta = hostdelta.advance(conn, "hv1", base, rows, rows[-1][0])
        assert delta is not None and "remote_groups" not in delta["upsert"]
        addresses = [new["fixed_ips"][0]["ip_address"], "192.0.2.200/32"]
        want = sorted(f"{group} {a}" for a in addresses)
        assert [i["id"] for i in delta["upsert"]["remote_members"]["items"]] == want
        base = patch(base, delta)
        assert base == compute(conn, "hv1", rows[-1][0]).to_dict()
        since = rows[-1][0]
    world.run(("delete", len(world.ports) - 1))
    with store.read() as conn:
        rows = changelog.with_hosts(conn, since)
        delta = hostdelta.advance(conn, "hv1", base, rows, rows[-1][0])
        assert delta is not None and delta["remove"]["remote_members"]["keys"] == want
        assert "remote_members" not in delta["upsert"]
        assert patch(base, delta) == compute(conn, "hv1", rows[-1][0]).to_dict()
