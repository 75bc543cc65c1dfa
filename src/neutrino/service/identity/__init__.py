"""Identity: authentication, tokens, and the Keystone resources (domains, projects, users, roles,
role assignments) behind the ``/v3`` and ``/v2.0/tokens`` APIs.

The rest of the code uses one class, ``IdentityService`` (``service``), a facade over modules
that each own one concern:

- ``auth``: checking tokens on every request (an HMAC and dict lookups, no database query in the
  common case) and issuing them for the password and token methods; implied roles.
- ``revocation``: revocation events, written in the same transaction as the change that causes
  them, and the per-process cache that sees another replica's events within a second.
- ``external``: tokens signed by another Keystone, validated over HTTP and cached for a while.
- ``resources``: CRUD of domains, projects, users, roles and grants, with their policy checks.
- ``bootstrap``: the idempotent first seed (domain Default, standard roles, the admin).
- ``catalog``: the service catalog.
- ``passwords``: argon2id hashing.

Imports point one way: ``service`` -> ``auth``/``resources``/``bootstrap``/``external``/
``catalog`` -> ``revocation``/``passwords`` -> ``neutrino.store.identity``.
"""

from neutrino.service.identity.auth import TokenInfo, context_of, effective_roles
from neutrino.service.identity.external import (
    EXTERNAL_CACHE_SECONDS,
    ExternalValidator,
    IdentityUnavailable,
)
from neutrino.service.identity.passwords import hash_password, password_matches
from neutrino.service.identity.revocation import REFRESH_SECONDS, RevocationCache
from neutrino.service.identity.service import IdentityService

__all__ = [
    "EXTERNAL_CACHE_SECONDS",
    "REFRESH_SECONDS",
    "ExternalValidator",
    "IdentityService",
    "IdentityUnavailable",
    "RevocationCache",
    "TokenInfo",
    "context_of",
    "effective_roles",
    "hash_password",
    "password_matches",
]
