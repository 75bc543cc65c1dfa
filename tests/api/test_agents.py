"""The agents API before any agent has registered (registration is the agent issue's)."""

from __future__ import annotations

import uuid

from tests.conftest import Caller


def test_agents_api_is_admin_only_and_empty_without_agents(api: Caller) -> None:
    assert api.get("/v2.0/agents").json() == {"agents": []}
    assert api.get("/v2.0/agents?agent_type=DHCP%20Agent").json() == {"agents": []}
    assert api.get(f"/v2.0/agents/{uuid.uuid4()}").status_code == 404
    assert api.post("/v2.0/agents", {"agent": {"host": "x"}}).status_code == 405
    assert api.get("/v2.0/agents?bogus=1").status_code == 400
    member = api.as_member()  # as Neutron: agents do not exist for non-admins
    r = member.get("/v2.0/agents")
    assert r.status_code == 200 and r.json() == {"agents": []}
