"""The vmm's tables (SQLAlchemy Core), all prefixed ``vmm_`` and in their own ``MetaData``, so
they share a database with the controller without ever touching its tables or migrations.

Keys that carry the model's rules: a provider network is imported at most once per data center
(``uq_vmm_networks_link``); names are unique where a person picks by name; a MAC is held by one
vNIC at a time (``uq_vmm_vnics_mac``, the MAC pool's race arbiter). Deleting a data center
cascades to its clusters, networks, profiles, and so does deleting a provider to its linked
networks; a profile held by a vNIC cannot go (``RESTRICT``): the use cases answer 409 first,
with a clearer message.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _id() -> Column[str]:
    return Column("id", String(36), primary_key=True)


providers = Table(
    "vmm_providers",
    metadata,
    _id(),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("url", String(1024), nullable=False),
    Column("auth_url", String(1024), nullable=False),
    Column("keystone_version", String(8), nullable=False),
    Column("username", String(255), nullable=False),
    Column("password_encrypted", Text, nullable=False),
    Column("project", String(255), nullable=False),
    Column("user_domain", String(255), nullable=False),
    Column("project_domain", String(255), nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("sync_interval", Integer, nullable=False),
    Column("sync_status", String(32), nullable=False),
    Column("sync_message", Text, nullable=False),
)

datacenters = Table(
    "vmm_datacenters",
    metadata,
    _id(),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("mac_pool", String(64), nullable=False),
)

clusters = Table(
    "vmm_clusters",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column(
        "datacenter_id",
        String(36),
        ForeignKey("vmm_datacenters.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    UniqueConstraint("datacenter_id", "name", name="uq_vmm_clusters_name"),
)

hosts = Table(
    "vmm_hosts",
    metadata,
    _id(),
    Column("name", String(255), nullable=False, unique=True),
    Column(
        "cluster_id",
        String(36),
        ForeignKey("vmm_clusters.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("provider_host", String(255), nullable=False),
)

networks = Table(
    "vmm_networks",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column(
        "datacenter_id",
        String(36),
        ForeignKey("vmm_datacenters.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("description", Text, nullable=False),
    Column(
        "provider_id",
        String(36),
        ForeignKey("vmm_providers.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    Column("external_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("mtu", Integer, nullable=True),
    Column("network_type", String(32), nullable=True),
    Column("physical_network", String(255), nullable=True),
    Column("segmentation_id", Integer, nullable=True),
    UniqueConstraint("datacenter_id", "provider_id", "external_id", name="uq_vmm_networks_link"),
)

profiles = Table(
    "vmm_profiles",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column(
        "network_id",
        String(36),
        ForeignKey("vmm_networks.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # JSON text: NULL = unset (provider default), "[]" = none, '["id", ...]' = those groups
    Column("security_groups", Text, nullable=True),
    UniqueConstraint("network_id", "name", name="uq_vmm_profiles_name"),
)

vms = Table(
    "vmm_vms",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column(
        "cluster_id",
        String(36),
        ForeignKey("vmm_clusters.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("project_id", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("host_id", String(36), ForeignKey("vmm_hosts.id", ondelete="RESTRICT"), nullable=True),
    UniqueConstraint("project_id", "name", name="uq_vmm_vms_name"),
)

vnics = Table(
    "vmm_vnics",
    metadata,
    _id(),
    Column("name", String(255), nullable=False),
    Column(
        "vm_id",
        String(36),
        ForeignKey("vmm_vms.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column(
        "profile_id",
        String(36),
        ForeignKey("vmm_profiles.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    Column("mac", String(17), nullable=False, unique=True),
    Column("plugged", Boolean, nullable=False),
    Column("port_id", String(64), nullable=True),
    Column("port_provider_id", String(36), nullable=True, index=True),
    UniqueConstraint("vm_id", "name", name="uq_vmm_vnics_name"),
)

events = Table(
    "vmm_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("provider_id", String(36), nullable=True, index=True),
    Column("kind", String(64), nullable=False),
    Column("message", Text, nullable=False),
)

# Who runs a periodic job (a provider's auto-sync) among every process on this database: see
# ``storage/leases.py``. ``last_run`` is when the job last started (epoch seconds), ``expires_at``
# when its runner's claim lapses (0 = released).
leases = Table(
    "vmm_leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("last_run", Float, nullable=False),
)
