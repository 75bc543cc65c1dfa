"""Password hashing for identity users: argon2id with OWASP's parameters (m=19 MiB, t=2, p=1,
about 40 ms a verification here).

The only module that knows how a password is stored. ``password_matches`` takes the same time
whether or not the user exists (a missing hash is checked against a dummy one), so a login
failure does not tell an attacker which user names are real.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = HASHER.hash("neutrino-timing-equalizer")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
