"""``belongs_to_default_sg`` on security group rules (extension
``security-groups-rules-belongs-to-default-sg``) on SQLite and PostgreSQL: derived from the
project's default group, read-only, filterable (a boolean, else 400), not a sort key, and null
in a group list's rules as Neutron renders them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_security_groups import _default, _group, _rule
from tests.conftest import Caller

RULES = "/v2.0/security-group-rules"


def flags(caller: Caller, query: str = "") -> dict[str, bool]:
    r = caller.get(f"{RULES}{query}")
    assert r.status_code == 200, r.text
    return {x["id"]: x["belongs_to_default_sg"] for x in r.json()["security_group_rules"]}


def test_flag_follows_the_default_group(api: Caller) -> None:
    member = api.as_member()
    default = _default(member)
    own = _group(member, name="web")
    made = _rule(member, own["id"], protocol="tcp", port_range_min=80, port_range_max=80)
    assert made.status_code == 201, made.text
    plain = made.json()["security_group_rule"]
    assert plain["belongs_to_default_sg"] is False
    made = _rule(member, default["id"], protocol="tcp", port_range_min=22, port_range_max=22)
    in_default = made.json()["security_group_rule"]
    assert in_default["belongs_to_default_sg"] is True
    assert (
        member.get(f"{RULES}/{plain['id']}").json()["security_group_rule"]["belongs_to_default_sg"]
        is False
    )
    default_rules = {r["id"] for r in default["security_group_rules"]} | {in_default["id"]}
    own_rules = {r["id"] for r in own["security_group_rules"]} | {plain["id"]}
    everything = flags(member)
    assert {i for i, f in everything.items() if f} == default_rules
    assert {i for i, f in everything.items() if not f} == own_rules
    assert set(flags(member, "?belongs_to_default_sg=true")) == default_rules
    assert set(flags(member, "?belongs_to_default_sg=False")) == own_rules
    both = "?belongs_to_default_sg=1&belongs_to_default_sg=0"
    assert set(flags(member, both)) == default_rules | own_rules
    # a group's show computes the flag; a group list leaves it null, as Neutron does
    shown = member.get(f"/v2.0/security-groups/{default['id']}").json()["security_group"]
    assert {r["belongs_to_default_sg"] for r in shown["security_group_rules"]} == {True}
    listed = member.get("/v2.0/security-groups").json()["security_groups"]
    assert {r["belongs_to_default_sg"] for g in listed for r in g["security_group_rules"]} == {None}


def test_flag_is_read_only_and_validated(api: Caller) -> None:
    own = _group(api, name="ro")
    r = _rule(api, own["id"], protocol="udp", belongs_to_default_sg=True)
    assert r.status_code == 400, r.text
    r = api.get(f"{RULES}?belongs_to_default_sg=perhaps")
    assert r.status_code == 400 and r.json()["NeutronError"]["type"] == "InvalidInput"
    r = api.get(f"{RULES}?sort_key=belongs_to_default_sg&sort_dir=asc")
    assert r.status_code == 400, r.text


@pytest.mark.parametrize("fields", ["belongs_to_default_sg", "id,belongs_to_default_sg"])
def test_flag_selected_by_fields(api: Caller, fields: str) -> None:
    _default(api)
    rows: list[dict[str, Any]] = api.get(f"{RULES}?fields={fields}").json()["security_group_rules"]
    assert rows and all(row["belongs_to_default_sg"] is True for row in rows)
