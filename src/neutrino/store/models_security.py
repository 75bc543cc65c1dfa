"""Security-group tables (defined on the shared ``Base``; imported by ``models``).

``default_security_groups`` maps a project to its ``default`` group, keyed by project id as
Neutron does: resolving a port's default group is one primary-key lookup, and the key makes two
concurrent "first need" creations impossible (the loser's transaction is retried and finds the
winner's group). Rules cascade with their group and with the group they name as remote.

``default_security_group_rules`` holds the templates new groups take their first rules from
(Neutron's ``security-groups-default-rules``). A new database starts with Neutron's four legacy
templates: migration 0006 inserts them, and so does creating the table from the models
(``create_all``, in tests) through an ``after_create`` hook. Deleted templates stay deleted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Connection, DateTime, ForeignKey, Integer, String, Table, event
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.common.ids import new_id
from neutrino.domain.security_groups import LEGACY_TEMPLATES, Template
from neutrino.store.models import UUID_LEN, Base, StandardAttrs


class SecurityGroup(StandardAttrs, Base):
    __tablename__ = "security_groups"
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)


class DefaultSecurityGroup(Base):
    __tablename__ = "default_security_groups"
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), unique=True
    )


class SecurityGroupRule(Base):
    __tablename__ = "security_group_rules"
    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )
    # an address group (``models_address_groups``); not a foreign key, see there
    remote_address_group_id: Mapped[str | None] = mapped_column(String(UUID_LEN), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(40))
    port_range_min: Mapped[int | None] = mapped_column(Integer)
    port_range_max: Mapped[int | None] = mapped_column(Integer)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64))
    normalized_cidr: Mapped[str | None] = mapped_column(String(64))


class DefaultSecurityGroupRule(Base):
    __tablename__ = "default_security_group_rules"
    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(40))
    port_range_min: Mapped[int | None] = mapped_column(Integer)
    port_range_max: Mapped[int | None] = mapped_column(Integer)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64))
    remote_group_id: Mapped[str | None] = mapped_column(String(UUID_LEN))  # None or "PARENT"
    used_in_default_sg: Mapped[bool] = mapped_column(Boolean, default=False)
    used_in_non_default_sg: Mapped[bool] = mapped_column(Boolean, default=True)


def template_row(template: Template, template_id: str) -> dict[str, Any]:
    rule = template.rule
    return {
        "id": template_id,
        "description": template.description,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "remote_group_id": rule.remote_group_id,
        "used_in_default_sg": template.used_in_default_sg,
        "used_in_non_default_sg": template.used_in_non_default_sg,
    }


@event.listens_for(DefaultSecurityGroupRule.__table__, "after_create")
def _seed_legacy_templates(table: Table, connection: Connection, **_: Any) -> None:
    connection.execute(table.insert(), [template_row(t, new_id()) for t in LEGACY_TEMPLATES])
