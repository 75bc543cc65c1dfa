"""Provider passwords at rest: Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) with
a key kept in ``<state_dir>/vmm.key`` (mode 0600, made on first use).

Every replica that shares the database needs the same key file. Losing it makes stored
passwords unreadable (the providers must be given their password again), never readable by
anyone else.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "vmm.key"


class Cipher:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> Cipher:
        return cls(load_or_create_key(state_dir / KEY_FILE))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError(
                f"stored password cannot be decrypted with this key ({KEY_FILE} changed?)"
            ) from None


def load_or_create_key(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
    return path.read_bytes().strip()
