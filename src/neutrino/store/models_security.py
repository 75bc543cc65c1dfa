"""Security-group tables (defined on the shared ``Base``; imported by ``models``)."""

from __future__ import annotations
