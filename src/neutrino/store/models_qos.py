"""QoS policies and their rules (on the shared ``Base``; imported by ``models``).

A policy is a standard-attribute resource; its rules are children, one table per rule type
(no revision of their own: a rule change moves the policy's revision, as Neutron's do). The
unique keys are Neutron's duplicate rules: one bandwidth-limit, one minimum-bandwidth and one
minimum-packet-rate rule per direction per policy, one DSCP-marking rule per policy.
Networks, ports and floating IPs name the policy they use in their own ``qos_policy_id``
column (no foreign key: a delete checks use under the policy's row lock, ``service.qos``);
``shared`` mirrors a wildcard ``access_as_shared`` RBAC policy, as on networks.
"""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from neutrino.store.models import UUID_LEN, Base, StandardAttrs


class QosPolicy(StandardAttrs, Base):
    __tablename__ = "qos_policies"
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class QosBandwidthLimitRule(Base):
    __tablename__ = "qos_bandwidth_limit_rules"
    __table_args__ = (UniqueConstraint("qos_policy_id", "direction"),)
    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    qos_policy_id: Mapped[str] = mapped_column(
        ForeignKey("qos_policies.id", ondelete="CASCADE"), index=True
    )
    max_kbps: Mapped[int] = mapped_column(Integer)
    max_burst_kbps: Mapped[int] = mapped_column(Integer, default=0)
    direction: Mapped[str] = mapped_column(String(16))


class QosDscpMarkingRule(Base):
    """At most one per policy (Neutron's DSCP rules have no direction: they mark what the VM
    sends)."""

    __tablename__ = "qos_dscp_marking_rules"
    __table_args__ = (UniqueConstraint("qos_policy_id"),)
    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    qos_policy_id: Mapped[str] = mapped_column(
        ForeignKey("qos_policies.id", ondelete="CASCADE"), index=True
    )
    dscp_mark: Mapped[int] = mapped_column(Integer)


class QosMinimumBandwidthRule(Base):
    """At most one per direction per policy; the direction defaults to egress."""

    __tablename__ = "qos_minimum_bandwidth_rules"
    __table_args__ = (UniqueConstraint("qos_policy_id", "direction"),)
    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    qos_policy_id: Mapped[str] = mapped_column(
        ForeignKey("qos_policies.id", ondelete="CASCADE"), index=True
    )
    min_kbps: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(16))


class QosMinimumPacketRateRule(Base):
    """At most one per direction (``any``, ``egress``, ``ingress``) per policy; ``any`` and a
    direction do not mix (``service.qos_rules``)."""

    __tablename__ = "qos_minimum_packet_rate_rules"
    __table_args__ = (UniqueConstraint("qos_policy_id", "direction"),)
    id: Mapped[str] = mapped_column(String(UUID_LEN), primary_key=True)
    qos_policy_id: Mapped[str] = mapped_column(
        ForeignKey("qos_policies.id", ondelete="CASCADE"), index=True
    )
    min_kpps: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(16))
