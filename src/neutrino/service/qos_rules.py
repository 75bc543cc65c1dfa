"""QoS policy rules (``/v2.0/qos/policies/{id}/<type>_rules``, extension ``qos`` with
``qos-bw-limit-direction``; the aliases ``/v2.0/qos/alias-<type>-rules/{id}``,
``qos-rules-alias``), and the rule types (``/v2.0/qos/rule-types``,
``qos-rule-type-details``).

The rule types with rules here are those of ``qos_attrs.KINDS``; a rule of another of
Neutron's types is refused as no agent supports it (409 ``QosRuleNotSupported``), and so is
a rule of a known type while no agent reports the type (``qos_attrs`` says where they report
it). Conflicts are Neutron's: two rules of a policy that duplicate each other (same type and,
where the type has one, same direction) are 409 ``QoSRulesConflict``, also as a unique key,
so a race ends the same way.

Rules are read by whoever sees the policy and written by admins only (Neutron's defaults: a
member's create is 403 at once, an update or delete of a rule it cannot see 404). A
rule's write is a change of its policy: the policy's row is locked first (``for_change``) and
its revision moves, which also wakes the agents whose ports use it.
"""

from __future__ import annotations

from typing import Any

import orjson

from neutrino.common.errors import NamedConflict, NotFound, PolicyNotAuthorized
from neutrino.common.ids import new_id
from neutrino.domain.attributes import parse_create, parse_update
from neutrino.domain.listing import ListQuery
from neutrino.service import qos
from neutrino.service import qos_attrs as qa
from neutrino.service.context import RequestContext
from neutrino.store import agents as agent_repo
from neutrino.store import locks
from neutrino.store import qos as repo
from neutrino.store.changes import Resource
from neutrino.store.uow import Store, Tx


def reported_types(conn: Any) -> dict[str, list[tuple[str, Any]]]:
    """Rule type -> [(agent binary, its supported parameters)] from the agents' reports."""
    out: dict[str, list[tuple[str, Any]]] = {}
    for row in agent_repo.list_rows(conn, ListQuery()):
        try:
            config = orjson.loads(row["configurations"])
        except orjson.JSONDecodeError:
            continue
        types = config.get(qa.CONFIG_KEY) if isinstance(config, dict) else None
        if not isinstance(types, dict):
            continue
        for rule_type, params in types.items():
            if rule_type in qa.RULE_TYPES:
                drivers = out.setdefault(rule_type, [])
                if all(name != row["binary"] for name, _ in drivers):
                    drivers.append((row["binary"], params))
    return out


class QosRuleService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- rule types

    def rule_types(
        self, ctx: RequestContext, all_supported: bool = False, all_rules: bool = False
    ) -> list[dict[str, Any]]:
        """The rule types as Neutron's driver manager lists them (``qos-rule-type-filter``):
        by default those every driver (agent binary) supports, with ``all_supported`` those
        at least one supports, with ``all_rules`` every type Neutron defines."""
        if all_rules:
            return [{"type": t} for t in sorted(qa.RULE_TYPES)]
        with self.store.read() as conn:
            reported = reported_types(conn)
        by_driver: dict[str, set[str]] = {}
        for rule_type, drivers in reported.items():
            for name, _ in drivers:
                by_driver.setdefault(name, set()).add(rule_type)
        if not by_driver:
            return []
        sets = list(by_driver.values())
        types = set.union(*sets) if all_supported else set.intersection(*sets)
        return [{"type": t} for t in sorted(types)]

    def rule_type(self, ctx: RequestContext, rule_type: str) -> dict[str, Any]:
        # the details name the deployment's drivers: admin only (Neutron's get_rule_type);
        # the list of types stays open to all
        ctx.require_admin("get_rule_type")
        if rule_type not in qa.RULE_TYPES:
            raise NotFound(f"Rule type {rule_type[:64]} could not be found.")
        with self.store.read() as conn:
            drivers = reported_types(conn).get(rule_type, [])
        return {
            "type": rule_type,
            "drivers": [{"name": n, "supported_parameters": p} for n, p in drivers],
        }

    # --- reads

    def _policy(self, conn: Any, ctx: RequestContext, policy_id: str) -> Any:
        return qos.load(conn, ctx, policy_id)

    def search(
        self, ctx: RequestContext, rule_type: str, policy_id: str, query: ListQuery
    ) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            self._policy(conn, ctx, policy_id)
            if rule_type not in qa.KINDS:
                return []
            rows = repo.list_rules(conn, rule_type, policy_id, query)
            return [qos.rule_view(r, rule_type) for r in rows]

    def get(
        self, ctx: RequestContext, rule_type: str, policy_id: str, rule_id: str
    ) -> dict[str, Any]:
        with self.store.read() as conn:
            self._policy(conn, ctx, policy_id)
            row = _find(conn, rule_type, rule_id)
            if row is None or row["qos_policy_id"] != policy_id:
                raise qa.rule_not_found(rule_id, policy_id)
            return qos.rule_view(row, rule_type)

    def get_alias(self, ctx: RequestContext, rule_type: str, rule_id: str) -> dict[str, Any]:
        """``GET /v2.0/qos/alias-<type>-rules/{id}``: the rule by its id alone."""
        with self.store.read() as conn:
            row = _find(conn, rule_type, rule_id)
            if row is None:
                raise _alias_not_found(rule_id)
            try:
                self._policy(conn, ctx, row["qos_policy_id"])
            except NotFound:
                raise _alias_not_found(rule_id) from None
        return qos.rule_view(row, rule_type)

    def policy_of(self, ctx: RequestContext, rule_type: str, rule_id: str) -> str:
        with self.store.read() as conn:
            row = _find(conn, rule_type, rule_id)
            if row is None:
                raise _alias_not_found(rule_id)
            return str(row["qos_policy_id"])

    # --- writes

    def _writable(self, ctx: RequestContext, action: str, policy_id: str) -> None:
        if not ctx.is_admin:
            with self.store.read() as conn:
                self._policy(conn, ctx, policy_id)  # 404 for what the caller cannot see
            raise PolicyNotAuthorized(f"rule:{action}")

    def create(
        self, ctx: RequestContext, rule_type: str, policy_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        if not ctx.is_admin:
            # Neutron checks a create against the body alone, before loading the policy:
            # 403 even for a policy the caller cannot see (update and delete load it: 404)
            raise PolicyNotAuthorized(f"rule:create_policy_{rule_type}_rule")
        if rule_type not in qa.KINDS:
            with self.store.read() as conn:
                self._policy(conn, ctx, policy_id)
            raise qa.not_supported(rule_type)
        kind = qa.KINDS[rule_type]
        attrs = {**kind.defaults, **parse_create(body, kind.spec)}
        return self.store.write(self._create_tx, ctx, kind, policy_id, attrs)

    def _create_tx(
        self, tx: Tx, ctx: RequestContext, kind: qa.RuleKind, policy_id: str, attrs: dict[str, Any]
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "qos_policies", policy_id)
        self._policy(tx.conn, ctx, policy_id)
        if kind.type not in reported_types(tx.conn):
            raise qa.not_supported(kind.type)
        row = {"id": new_id(), "qos_policy_id": policy_id, **attrs}
        _check_conflicts(tx.conn, kind, policy_id, row, attrs)
        repo.insert_rule(tx.conn, kind.type, row)
        tx.updated(Resource.QOS_POLICY, policy_id)
        return qos.rule_view(row, kind.type)

    def update(
        self,
        ctx: RequestContext,
        rule_type: str,
        policy_id: str,
        rule_id: str,
        body: dict[str, Any],
        if_match: int | None = None,
    ) -> dict[str, Any]:
        self._writable(ctx, f"update_policy_{rule_type}_rule", policy_id)
        if rule_type not in qa.KINDS:
            self.get(ctx, rule_type, policy_id, rule_id)  # 404: no such rules here
        kind = qa.KINDS[rule_type]
        attrs = parse_update(body, kind.update_spec)
        return self.store.write(self._update_tx, ctx, kind, policy_id, rule_id, attrs)

    def _update_tx(
        self,
        tx: Tx,
        ctx: RequestContext,
        kind: qa.RuleKind,
        policy_id: str,
        rule_id: str,
        attrs: dict[str, Any],
    ) -> dict[str, Any]:
        locks.for_change(tx.conn, "qos_policies", policy_id)
        self._policy(tx.conn, ctx, policy_id)  # rules have no revision: If-Match is not theirs
        row = repo.find_rule(tx.conn, kind.type, rule_id)
        if row is None or row["qos_policy_id"] != policy_id:
            raise qa.rule_not_found(rule_id, policy_id)
        _check_conflicts(tx.conn, kind, policy_id, {**row, **attrs}, attrs)
        changed = {k: v for k, v in attrs.items() if row[k] != v}
        if changed:
            repo.update_rule(tx.conn, kind.type, rule_id, changed)
            tx.updated(Resource.QOS_POLICY, policy_id)
        return qos.rule_view({**row, **changed}, kind.type)

    def delete(
        self,
        ctx: RequestContext,
        rule_type: str,
        policy_id: str,
        rule_id: str,
        if_match: int | None = None,
    ) -> None:
        self._writable(ctx, f"delete_policy_{rule_type}_rule", policy_id)
        if rule_type not in qa.KINDS:
            self.get(ctx, rule_type, policy_id, rule_id)
        self.store.write(self._delete_tx, ctx, rule_type, policy_id, rule_id)

    def _delete_tx(
        self, tx: Tx, ctx: RequestContext, rule_type: str, policy_id: str, rule_id: str
    ) -> None:
        locks.for_change(tx.conn, "qos_policies", policy_id)
        self._policy(tx.conn, ctx, policy_id)
        row = repo.find_rule(tx.conn, rule_type, rule_id)
        if row is None or row["qos_policy_id"] != policy_id:
            raise qa.rule_not_found(rule_id, policy_id)
        repo.delete_rule(tx.conn, rule_type, rule_id)
        tx.updated(Resource.QOS_POLICY, policy_id)


def _find(conn: Any, rule_type: str, rule_id: str) -> Any:
    if rule_type not in qa.KINDS or "\x00" in rule_id:
        return None
    return repo.find_rule(conn, rule_type, rule_id)


def _check_conflicts(
    conn: Any, kind: qa.RuleKind, policy_id: str, rule: dict[str, Any], given: dict[str, Any]
) -> None:
    """Neutron's checks of a rule (``rule``: its values after the write; ``given``: what the
    request set, a create's defaults included) against the policy's other rules: a limit
    below a guaranteed minimum (``_check_limits``), a duplicate (``QoSRulesConflict``)."""
    _check_limits(conn, policy_id, given)
    if kind.type == qa.MINIMUM_PACKET_RATE:
        _check_any_direction(conn, policy_id, rule)
    for other in repo.policy_rules(conn, kind.type, policy_id):
        if other["id"] != rule["id"] and all(other[f] == rule[f] for f in kind.duplicate_by):
            raise NamedConflict(
                "QoSRulesConflict",
                f"Rule {kind.type} conflicts with rule {other['id']} which already "
                f"exists in QoS Policy {policy_id}.",
            )


def _check_limits(conn: Any, policy_id: str, given: dict[str, Any]) -> None:
    """A guaranteed minimum above the same direction's limit, either way round, is 409
    ``QoSRuleParameterConflict`` (Neutron's check: with no direction in the request, every
    direction's rule counts)."""
    direction = given.get("direction")
    # (the rule type to compare with, the request's value, the other rule's value)
    for kind, mine, theirs in (
        (qa.MINIMUM_BANDWIDTH, "max_kbps", "min_kbps"),
        (qa.BANDWIDTH_LIMIT, "min_kbps", "max_kbps"),
    ):
        if mine not in given:
            continue
        for other in repo.policy_rules(conn, kind, policy_id):
            if direction and other["direction"] != direction:
                continue
            limit, minimum = (
                (int(given[mine]), int(other[theirs]))
                if mine == "max_kbps"
                else (int(other[theirs]), int(given[mine]))
            )
            if minimum > limit:
                raise qa.parameter_conflict(given[mine], policy_id, kind, other[theirs])


def _check_any_direction(conn: Any, policy_id: str, rule: dict[str, Any]) -> None:
    """Minimum packet rates: a rule for ``any`` direction and one for a direction do not mix
    in a policy (409 ``QoSRuleParameterConflict``, Neutron's check)."""
    for other in repo.policy_rules(conn, qa.MINIMUM_PACKET_RATE, policy_id):
        mine, theirs = rule["direction"], other["direction"]
        if other["id"] != rule["id"] and mine != theirs and "any" in (mine, theirs):
            raise qa.parameter_conflict(mine, policy_id, qa.MINIMUM_PACKET_RATE, theirs)


def _alias_not_found(rule_id: str) -> NotFound:
    return NotFound(f"QoS rule {rule_id[:64]} could not be found.")
