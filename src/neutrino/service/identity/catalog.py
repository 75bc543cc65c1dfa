"""The service catalog returned with every v3 token and by ``GET /v3/auth/catalog``.

Two services (identity and network), each with public, internal and admin endpoints at the
configured ``base_url`` and ``region``. Ids are name-based UUIDs, so every replica shows the same
catalog without storing it.
"""

from __future__ import annotations

import uuid
from typing import Any

from neutrino.common.settings import Settings


def service_catalog(settings: Settings) -> list[dict[str, Any]]:
    """The service catalog in v3 shape; ids are stable across replicas."""
    base = settings.base_url
    region = settings.region
    services = [("identity", "keystone", f"{base}/v3"), ("network", "neutron", f"{base}/")]
    return [
        {
            "id": _stable_id(kind),
            "type": kind,
            "name": name,
            "endpoints": [
                {
                    "id": _stable_id(f"{kind}/{iface}/{region}"),
                    "interface": iface,
                    "region": region,
                    "region_id": region,
                    "url": url,
                }
                for iface in ("public", "internal", "admin")
            ],
        }
        for kind, name, url in services
    ]


def _stable_id(name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"neutrino:{name}").hex
