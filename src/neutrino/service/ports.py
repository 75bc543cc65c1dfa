"""Ports: create (MAC + fixed IPs + bindings in one transaction), show, list, update, delete.

Everything a port create decides (its MAC, its addresses from IPAM, its security-group
bindings, its binding) is written in the same transaction as the port row and the change-log
entry; a MAC the caller asked for that is taken is a 409 ``MacAddressInUse``. A duplicate MAC
or IP is a unique-key violation, and the whole create is retried (``Store.write``).

Locks (PostgreSQL, ``store.locks``): a create takes the project's ``port`` quota key, then its
networks before reading them (picks one at a time; a racing network or subnet delete sees the
port, or the create gets 404), then share-locks the groups it binds; an update or delete locks
the port before reading it (``If-Match`` sees the committed revision; a second delete: 404).
"""

from __future__ import annotations

from typing import Any

import orjson

from neutrino.common.errors import (
    NamedConflict,
    PolicyNotAuthorized,
    ResourceNotFound,
)
from neutrino.common.ids import is_uuid, new_id
from neutrino.common.settings import Settings
from neutrino.domain.attributes import parse_create, parse_update
from neutrino.domain.dns import DnsConfig
from neutrino.domain.listing import ListQuery
from neutrino.service import binding, ipam, policy, port_resources, qos, rbac, trunk_binding
from neutrino.service import security_groups as sg_service
from neutrino.service.common import check_revision, new_row, owner_project, per_project
from neutrino.service.context import RequestContext
from neutrino.service.macs import free_mac
from neutrino.service.port_attrs import (
    SPEC,
    check_no_nulls,
    check_numa_policy_unbound,
    check_port_security,
    pairs_with_mac,
)
from neutrino.service.port_views import PortViewCache
from neutrino.service.quotas import QuotaService
from neutrino.service.routers import fip_rules, pf_rules
from neutrino.store import changelog, locks, port_json, raw
from neutrino.store import networks as network_repo
from neutrino.store import port_bindings as port_bindings_repo
from neutrino.store import ports as repo
from neutrino.store import routers as router_repo
from neutrino.store import tags as tag_repo
from neutrino.store import trunks as trunk_repo
from neutrino.store.changes import Resource
from neutrino.store.raw import wire_time
from neutrino.store.uow import Store, Tx

# A router's own internal ports, whose IPv4 addresses only the router may change
# (``l3-port-ip-change-not-allowed``); the gateway port stays writable, as in Neutron.
IP_UPDATE_NOT_ALLOWED = frozenset(
    {
        "network:router_interface",
        "network:router_ha_interface",
        "network:ha_router_replicated_interface",
        "network:router_centralized_snat",
        "network:router_interface_distributed",
    }
)

EMPTY_JSON = "{}"


def _json(text: str) -> Any:
    return {} if text == EMPTY_JSON else orjson.loads(text)


class PortService:
    def __init__(self, store: Store, settings: Settings, quotas: QuotaService) -> None:
        self.store = store
        self.quotas = quotas
        self.views = PortViewCache()
        self.base_mac = settings.base_mac
        self.window = settings.ipam_window
        self.dns = DnsConfig.parse(settings.dns_domain)

    # --- views

    def _render(
        self, conn: Any, ctx: RequestContext, rows: list[tuple[Any, ...]], placement: bool = True
    ) -> list[dict[str, Any]]:
        """Wire dicts for port tuples (``repo.PORT_COLUMNS`` order), children fetched in one
        query per table for all of them; ``placement`` False leaves the admin's
        ``resource_request`` out (the view cache's texts, which get it appended)."""
        ids = [r[0] for r in rows]
        fixed = repo.fixed_ips_of(conn, ids)
        groups = repo.security_groups_of(conn, ids)
        pairs = repo.address_pairs_of(conn, ids)
        opts = repo.dhcp_opts_of(conn, ids)
        tags = tag_repo.tags_of(conn, ids)
        trunks = trunk_repo.details_of(conn, ids)
        out = [
            self._view(
                r,
                fixed.get(r[0], ()),
                groups.get(r[0], ()),
                pairs.get(r[0], ()),
                opts.get(r[0], ()),
                tags.get(r[0], []),
                ctx.is_admin,
            )
            for r in rows
        ]
        for port in out:
            if port["id"] in trunks:  # only a trunk's parent has the key, as in Neutron
                port["trunk_details"] = trunks[port["id"]]
        if ctx.is_admin and placement:  # placement's view of the port: admin only (Neutron)
            wanted = port_resources.requests(conn, [_placement_key(r) for r in rows])
            for port in out:
                port[port_resources.KEY] = wanted[port["id"]]
        return out

    def _view(
        self,
        r: tuple[Any, ...],
        fixed: Any,
        groups: Any,
        pairs: Any,
        opts: Any,
        tags: list[str],
        admin: bool,
    ) -> dict[str, Any]:
        (
            pid,
            project,
            name,
            description,
            created,
            updated,
            revision,
            network_id,
            mac,
            up,
            status,
            device_id,
            device_owner,
            port_security,
            host,
            vnic_type,
            vif_type,
            vif_details,
            profile,
            dns_name,
            qos_policy_id,
            dns_domain,
            numa_affinity_policy,
            device_profile,
            ip_allocation,
        ) = r
        port = {
            "id": pid,
            "name": name,
            "network_id": network_id,
            "tenant_id": project,
            "mac_address": mac,
            "admin_state_up": bool(up),
            "status": status,
            "device_id": device_id,
            "device_owner": device_owner,
            "fixed_ips": [{"subnet_id": s, "ip_address": a} for s, a in fixed],
            "allowed_address_pairs": [{"ip_address": ip, "mac_address": m} for ip, m in pairs],
            "extra_dhcp_opts": [
                {"opt_name": n, "opt_value": v, "ip_version": ver} for n, v, ver in opts
            ],
            "security_groups": [g for (g,) in groups],
            "description": description,
            "binding:vnic_type": vnic_type,
            "port_security_enabled": bool(port_security),
            "qos_policy_id": qos_policy_id,
            "dns_name": dns_name,
            "dns_domain": dns_domain,
            "dns_assignment": self.dns.assignment((a for _, a in fixed), dns_name),
            "ip_allocation": ip_allocation,
            "numa_affinity_policy": numa_affinity_policy,
            "device_profile": device_profile,
            "tags": tags,
            "created_at": wire_time(created),
            "updated_at": wire_time(updated),
            "revision_number": revision,
            "project_id": project,
        }
        if admin:
            port["binding:profile"] = _json(profile)
            port["binding:host_id"] = host
            port["binding:vif_type"] = vif_type
            port["binding:vif_details"] = _json(vif_details)
        return port

    def _render_ids(
        self, conn: Any, ctx: RequestContext, ids: list[str], placement: bool = True
    ) -> list[dict[str, Any]]:
        by_id = {r[0]: r for r in repo.rows_by_ids(conn, ids)}
        return self._render(conn, ctx, [by_id[i] for i in ids], placement)

    def _visible(self, conn: Any, ctx: RequestContext, row: Any) -> bool:
        if ctx.owns(row["project_id"]):
            return True
        net = network_repo.find(conn, row["network_id"])
        return net is not None and ctx.in_project(net["project_id"])

    @staticmethod
    def _check_router_device(
        conn: Any, ctx: RequestContext, device_owner: str, device_id: str, project: str
    ) -> None:
        if ctx.is_admin or not device_id:
            return
        router = router_repo.find(conn, device_id) if is_uuid(device_id) else None
        policy.check_router_device(
            ctx, device_owner, device_id, project, None if router is None else router["project_id"]
        )

    def _load(self, conn: Any, ctx: RequestContext, port_id: str) -> Any:
        row = repo.find(conn, port_id)
        if row is None or not self._visible(conn, ctx, row):
            raise ResourceNotFound("Port", port_id)
        return row

    # --- reads

    def get(self, ctx: RequestContext, port_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            self._load(conn, ctx, port_id)
            return self._render_ids(conn, ctx, [port_id])[0]

    def status(self, ctx: RequestContext, port_id: str) -> str:
        """The port's ``status`` alone (404 as ``get``): the port-event wait reads it on every
        commit, and rendering the whole port for it cost as much as the port's size."""
        with self.store.read() as conn:
            return str(self._load(conn, ctx, port_id)["status"])

    def search(self, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = repo.list_rows(conn, query, ctx.list_scope)
            return self._render(conn, ctx, rows)

    def search_json(self, ctx: RequestContext, query: ListQuery) -> list[tuple[str, str]]:
        """Whole ports as JSON text: ids from the list query, texts from the view cache
        (rendered by SQLite where it can, else by ``_render``)."""
        admin = ctx.is_admin
        with self.store.read() as conn:  # one snapshot for ids, change log and renders
            revision = changelog.latest(conn)
            if revision > self.views.revision:
                since = max(self.views.revision, 0)
                changes = changelog.since(conn, since) if self.views.revision >= 0 else []
                self.views.catch_up(revision, changes)
            ids = port_json.list_ids(conn, query, ctx.list_scope)

            def render(missing: list[str]) -> dict[str, str]:
                # SQLite's renderer knows no trunks: their parents (rare) go the Python way
                parents = trunk_repo.parents_among(conn, missing)
                if port_json.supported(conn):
                    texts = port_json.render_ids(
                        conn, [i for i in missing if i not in parents], admin, self.dns
                    )
                    missing = [i for i in missing if i in parents]
                else:
                    texts = {}
                texts.update(
                    (p["id"], orjson.dumps(p).decode())
                    for p in (self._render_ids(conn, ctx, missing, False) if missing else [])
                )
                return texts

            texts = self.views.views(ids, admin, revision, render)
            if admin:
                # outside the cached text: it follows the policies' rules, which the view
                # cache does not watch (an admin's list without minimum rules pays one query)
                wanted: dict[str, Any] = {}
                if ids and port_resources.any_minimums(conn):
                    wanted = port_resources.requests(conn, repo.placement_keys(conn, ids))
                texts = [with_key(t, wanted.get(i)) for i, t in zip(ids, texts, strict=True)]
        return list(zip(ids, texts, strict=True))

    # --- create

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [body])[0]

    def create_bulk(
        self, ctx: RequestContext, bodies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        ctx.require_write("create_port")
        parsed = []
        for body in bodies:
            attrs = parse_create(body, SPEC)
            check_no_nulls(attrs)
            policy.check_admin_only(ctx, "create_port", SPEC, attrs)
            parsed.append(attrs)
        return self.store.write(self._create_tx, ctx, parsed)

    def _create_tx(
        self, tx: Tx, ctx: RequestContext, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        for project, count in per_project(ctx, items):
            self.quotas.check(tx, project, "port", count)
        locks.for_change(tx.conn, "networks", *(attrs["network_id"] for attrs in items))
        return [self._create_one(tx, ctx, attrs) for attrs in items]

    def _create_one(self, tx: Tx, ctx: RequestContext, attrs: dict[str, Any]) -> dict[str, Any]:
        """Insert one port and return its view, rendered from what was written (a new port
        has no tags or children beyond these, so nothing needs reading back)."""
        conn = tx.conn
        network_id = attrs["network_id"]
        net = network_repo.for_port(conn, network_id)
        visible, shared = (
            (False, False)
            if net is None or ctx.owns(net[0])
            else rbac.access(conn, ctx, network_id, net[1])
        )
        if net is None or not ctx.can_see(net[0], public=visible):
            raise ResourceNotFound("Network", network_id)
        if not (ctx.owns(net[0]) or shared):  # visible (external) but not for ports
            raise PolicyNotAuthorized("rule:create_port")
        policy.check_port(ctx, "create_port", attrs, network_project=net[0], network_shared=shared)
        project = owner_project(ctx, attrs)
        self._check_router_device(
            conn, ctx, attrs.get("device_owner", ""), attrs.get("device_id", ""), project
        )
        port_id = new_id()
        mac = attrs.get("mac_address") or free_mac(tx, network_id, self.base_mac)
        if "mac_address" in attrs and repo.mac_in_use(conn, network_id, mac):
            raise NamedConflict(
                "MacAddressInUse",
                f"Unable to complete operation for network {network_id}. "
                f"The mac address {mac} is in use.",
            )
        port_security = attrs.get("port_security_enabled", net[2])
        # security_groups: omitted -> the project's default group; null or [] -> none.
        requested = (attrs["security_groups"] or []) if "security_groups" in attrs else None
        pairs = attrs.get("allowed_address_pairs", [])
        check_port_security(port_security, requested or [], pairs)
        groups = sg_service.port_groups_on_create(tx, ctx, project, requested, port_security)
        host = attrs.get("binding:host_id") or ""
        vif_type, vif_details = binding.bind(tx, port_id, network_id, host)
        row = new_row(
            port_id,
            project,
            attrs,
            revision=1,
            network_id=network_id,
            mac_address=mac,
            admin_state_up=attrs.get("admin_state_up", True),
            status="DOWN",
            device_id=attrs.get("device_id", ""),
            device_owner=attrs.get("device_owner", ""),
            port_security_enabled=port_security,
            binding_host_id=host,
            binding_vnic_type=attrs.get("binding:vnic_type", "normal"),
            binding_vif_type=vif_type,
            binding_vif_details=vif_details,
            binding_profile=orjson.dumps(attrs.get("binding:profile", {})).decode(),
            **self._dns_values(attrs),
            # Neutron: ``fixed_ips: []`` asks for an unaddressed port; else IPAM runs now
            # (neutrino never defers it, so ``deferred`` does not occur)
            ip_allocation="none" if attrs.get("fixed_ips") == [] else "immediate",
            qos_policy_id=qos.attach(tx, ctx, attrs.get("qos_policy_id")),
            numa_affinity_policy=attrs.get("numa_affinity_policy"),
            device_profile=attrs.get("device_profile"),
        )
        repo.insert_row(conn, row)
        fixed = ipam.allocate(
            tx,
            network_id,
            attrs.get("fixed_ips"),
            mac,
            port_id=port_id,
            device_owner=row["device_owner"],
            window=self.window,
        )
        pairs = pairs_with_mac(pairs, mac)
        opts = attrs.get("extra_dhcp_opts", [])
        repo.insert_children(conn, port_id, groups, pairs, opts)
        tags = sorted(set(attrs.get("tags") or ()))
        if tags:
            tag_repo.replace_tags(conn, "ports", port_id, tags)
        tx.created(Resource.PORT, row)
        stamp = raw.db_time(conn, row["created_at"])
        values = tuple(
            stamp if name in ("created_at", "updated_at") else row[name]
            for name in repo.PORT_COLUMNS
        )
        view = self._view(
            values,
            [(f["subnet_id"], f["ip_address"]) for f in fixed],
            [(g,) for g in dict.fromkeys(groups)],
            [(p["ip_address"], p["mac_address"]) for p in pairs],
            [(o["opt_name"], o["opt_value"], o["ip_version"]) for o in opts],
            tags,
            ctx.is_admin,
        )
        if ctx.is_admin:
            wanted = port_resources.requests(conn, [_placement_key(values)])
            view[port_resources.KEY] = wanted[port_id]
        return view

    def _dns_values(self, attrs: dict[str, Any], update: bool = False) -> dict[str, str]:
        """The ``dns_name``/``dns_domain`` columns a write sets: on create both (empty when
        not given), on update those given; always empty while the controller's domain is the
        default one (Neutron drops them then; ``domain.dns``)."""
        keys = [k for k in ("dns_name", "dns_domain") if k in attrs or not update]
        if not self.dns.names_enabled:
            return {} if update else dict.fromkeys(keys, "")
        self.dns.check_name(attrs.get("dns_name", ""))
        return {k: attrs.get(k, "") for k in keys}

    # --- update

    def update(
        self, ctx: RequestContext, port_id: str, body: dict[str, Any], if_match: int | None = None
    ) -> dict[str, Any]:
        ctx.require_write_on("update_port", lambda: self.get(ctx, port_id))
        attrs = parse_update(body, SPEC)
        check_no_nulls(attrs)
        policy.check_admin_only(ctx, "update_port", SPEC, attrs)
        return self.store.write(self._update_tx, ctx, port_id, attrs, if_match)

    def _update_tx(
        self, tx: Tx, ctx: RequestContext, port_id: str, attrs: dict[str, Any], if_match: int | None
    ) -> dict[str, Any]:
        conn = tx.conn
        if "fixed_ips" in attrs and (found := repo.find(conn, port_id)) is not None:
            locks.for_change(conn, "networks", found["network_id"])  # addresses: as on create
        locks.for_change(conn, "ports", port_id)
        row = self._load(conn, ctx, port_id)
        if not ctx.owns(row["project_id"]):  # the network's owner sees it, may not change it
            raise PolicyNotAuthorized("rule:update_port")
        net = network_repo.get(conn, row["network_id"])
        policy.check_port(
            ctx,
            "update_port",
            attrs,
            network_project=net["project_id"],
            network_shared=net["shared"],
        )
        self._check_router_device(
            conn,
            ctx,
            attrs.get("device_owner", row["device_owner"]),
            attrs.get("device_id") or row["device_id"],
            row["project_id"],
        )
        check_revision(row["revision_number"], if_match)
        if "mac_address" in attrs and attrs["mac_address"] is None:  # regenerate, as Neutron
            attrs = {**attrs, "mac_address": free_mac(tx, row["network_id"], self.base_mac)}
        if "mac_address" in attrs and attrs["mac_address"] != row["mac_address"]:
            if row["binding_vif_type"] not in ("unbound", "binding_failed"):
                raise NamedConflict(
                    "PortBound",
                    f"Unable to complete operation on port {port_id}, port is already bound.",
                )
            if repo.mac_in_use(conn, row["network_id"], attrs["mac_address"]):
                raise NamedConflict(
                    "MacAddressInUse",
                    f"Unable to complete operation for network "
                    f"{row['network_id']}. The mac address "
                    f"{attrs['mac_address']} is in use.",
                )
        values: dict[str, Any] = {}
        for wire, column in (
            ("name", "name"),
            ("description", "description"),
            ("admin_state_up", "admin_state_up"),
            ("device_id", "device_id"),
            ("device_owner", "device_owner"),
            ("mac_address", "mac_address"),
            ("port_security_enabled", "port_security_enabled"),
            ("binding:vnic_type", "binding_vnic_type"),
            ("numa_affinity_policy", "numa_affinity_policy"),
        ):
            if wire in attrs:
                values[column] = attrs[wire]
        if "numa_affinity_policy" in attrs:
            check_numa_policy_unbound(row, attrs["numa_affinity_policy"])
        values.update(self._dns_values(attrs, update=True))
        if "qos_policy_id" in attrs and attrs["qos_policy_id"] != row["qos_policy_id"]:
            values["qos_policy_id"] = qos.replace(
                tx, ctx, row["qos_policy_id"], attrs["qos_policy_id"]
            )
        if "binding:host_id" in attrs:
            # Re-bind on every host update: a port moving hosts is unwired until the new
            # host's agent reports it (status back to DOWN).
            host = attrs["binding:host_id"] or ""
            values["binding_host_id"] = host
            values["binding_vif_type"], values["binding_vif_details"] = binding.bind(
                tx, port_id, row["network_id"], host
            )
            if host != row["binding_host_id"]:
                values["status"] = "DOWN"
                # an inactive binding on the new host is superseded by the active one
                port_bindings_repo.delete_row(conn, port_id, host)
        if "binding:profile" in attrs:
            values["binding_profile"] = orjson.dumps(attrs["binding:profile"]).decode()

        mac = values.get("mac_address", row["mac_address"])
        current_groups = [g for (g,) in repo.security_groups_of(conn, [port_id]).get(port_id, [])]
        current_pairs = repo.address_pairs_of(conn, [port_id]).get(port_id, [])
        port_security = values.get("port_security_enabled", row["port_security_enabled"])
        groups = attrs["security_groups"] or [] if "security_groups" in attrs else current_groups
        pairs = (
            attrs["allowed_address_pairs"]
            if "allowed_address_pairs" in attrs
            else [{"ip_address": ip, "mac_address": m} for ip, m in current_pairs]
        )
        check_port_security(port_security, groups, pairs)
        sg_service.ensure_default(tx, row["project_id"])  # as Neutron: recreated on update
        if "security_groups" in attrs:
            sg_service.check_port_groups(tx, ctx, row["project_id"], groups)

        changed = {k: v for k, v in values.items() if row[k] != v}
        if "device_owner" in changed:
            changed["system_owned"] = False  # a new owner typed by hand is only a claim
        if "fixed_ips" in attrs:
            owner = values.get("device_owner", row["device_owner"])
            current = [
                {"subnet_id": s, "ip_address": a}
                for s, a in repo.fixed_ips_of(conn, [port_id]).get(port_id, [])
            ]
            ipam.reallocate(
                tx,
                row["network_id"],
                port_id,
                current,
                attrs["fixed_ips"],
                mac,
                device_owner=owner,
                window=self.window,
                ipv4_frozen=owner in IP_UPDATE_NOT_ALLOWED
                and router_repo.exists(conn, values.get("device_id", row["device_id"])),
            )
            kept = repo.fixed_ips_of(conn, [port_id]).get(port_id, [])
            pf_rules.forget_port(tx, port_id, [a for _, a in kept])  # forwardings to gone IPs
        elif "mac_address" in changed:
            ipam.readdress(tx, row["network_id"], port_id, mac)
        if "security_groups" in attrs:
            repo.replace_security_groups(conn, port_id, groups)
        if "allowed_address_pairs" in attrs:
            repo.replace_address_pairs(conn, port_id, pairs_with_mac(pairs, mac))
        if "extra_dhcp_opts" in attrs:
            _merge_dhcp_opts(conn, port_id, attrs["extra_dhcp_opts"])
        touched = changed or any(
            k in attrs
            for k in ("fixed_ips", "security_groups", "allowed_address_pairs", "extra_dhcp_opts")
        )
        if touched:
            tx.updated(Resource.PORT, port_id, changed)
        if "binding_vif_type" in changed or "binding_host_id" in changed:
            trunk_binding.port_rebound(tx, port_id)  # its trunk's sub-ports and status follow
        return self._render_ids(conn, ctx, [port_id])[0]

    # --- delete

    def delete(self, ctx: RequestContext, port_id: str, if_match: int | None = None) -> None:
        ctx.require_write_on("delete_port", lambda: self.get(ctx, port_id))
        self.store.write(self._delete_tx, ctx, port_id, if_match)

    def _delete_tx(self, tx: Tx, ctx: RequestContext, port_id: str, if_match: int | None) -> None:
        locks.for_delete(tx.conn, "ports", port_id)
        row = self._load(tx.conn, ctx, port_id)
        check_revision(row["revision_number"], if_match)
        if router_repo.router_of_port(tx.conn, port_id) is not None:
            raise NamedConflict(
                "L3PortInUse",
                f"Port {port_id} has owner "
                f"{row['device_owner']} and therefore cannot be deleted "
                f"directly via the port API.",
            )
        trunk_binding.check_port_delete(tx.conn, port_id)
        fip_rules.before_port_delete(tx, row)  # Neutron disassociates its floating IPs
        pf_rules.forget_port(tx, port_id)  # and deletes the forwardings to it
        ipam.release(tx, port_id)
        repo.delete_row(tx.conn, port_id)
        tag_repo.delete_all(tx.conn, port_id)
        tx.deleted(Resource.PORT, row)


def _merge_dhcp_opts(conn: Any, port_id: str, updates: list[dict[str, Any]]) -> None:
    """Neutron semantics: options are merged by (name, version); a null value deletes one."""
    current = {(n, ver): v for n, v, ver in repo.dhcp_opts_of(conn, [port_id]).get(port_id, [])}
    for opt in updates:
        key = (opt["opt_name"], opt["ip_version"])
        if opt["opt_value"] is None:
            current.pop(key, None)
        else:
            current[key] = opt["opt_value"]
    repo.replace_dhcp_opts(
        conn,
        port_id,
        [{"opt_name": n, "ip_version": ver, "opt_value": v} for (n, ver), v in current.items()],
    )


def _placement_key(row: tuple[Any, ...]) -> tuple[str, str, str | None, str]:
    """(id, network id, own policy id, vNIC type) of a port tuple (``repo.PORT_COLUMNS``)."""
    f = repo.F
    return row[0], row[f["network_id"]], row[f["qos_policy_id"]], row[f["binding_vnic_type"]]


def with_key(text: str, request: Any) -> str:
    """A port's JSON object text with ``resource_request`` appended (as its last key)."""
    return f'{text[:-1]},"{port_resources.KEY}":{orjson.dumps(request).decode()}}}'
