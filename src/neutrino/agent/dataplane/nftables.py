"""nft without a process per command: libnftables in this process, ``nft -f -`` as fallback.

``Nft(namespace)`` runs nft's command language (what ``nft -f`` reads, listings included) in
one network namespace. It loads ``libnftables.so.1`` (Debian's nftables package installs it;
python's own ``nftables`` binding is not needed) through ctypes and makes one context inside
the namespace: the library opens its netlink socket then, so the context keeps talking to that
namespace whatever namespace the calling thread is in later. A ruleset load then costs no fork
and exec of ``nft`` (figures in docs/performance.md, "Agent roles"). When the library cannot be
loaded or makes no context, each command runs ``nft -f -`` in the namespace instead: same text,
same errors. ``close`` frees the context (its socket would keep the namespace alive).

Errors: ``NftError`` (not retryable: the text was refused, the kernel kept what it had).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import subprocess

from neutrino.agent.dataplane.base import DataplaneError
from neutrino.agent.dataplane.netns import argv, inside

__all__ = ["Nft", "NftError"]

log = logging.getLogger(__name__)


class NftError(DataplaneError):
    """nft refused the commands (the old ruleset stays in force)."""


@functools.cache
def _library() -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL("libnftables.so.1")
    except OSError as exc:
        log.info("libnftables not loadable (%s): running nft as a process", exc)
        return None
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    for name in ("nft_ctx_free", "nft_ctx_buffer_output", "nft_ctx_buffer_error"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
        getattr(lib, name).restype = ctypes.c_char_p
        getattr(lib, name).argtypes = [ctypes.c_void_p]
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return lib


class Nft:
    """nft commands in ``namespace`` (None: the current one); see the module docstring."""

    def __init__(self, namespace: str | None = None, nft: str = "nft", in_process: bool = True):
        self.namespace = namespace
        self.nft = nft
        self._lib = _library() if in_process else None
        self._ctx: int | None = None  # made by the first command

    @property
    def in_process(self) -> bool:
        return self._lib is not None

    def run(self, text: str) -> str:
        """Run ``text`` as one ``nft -f`` input (one transaction); nft's output."""
        if self._lib is not None and not self._ctx:
            with inside(self.namespace):
                self._ctx = self._lib.nft_ctx_new(0)  # NFT_CTX_DEFAULT
            if self._ctx:
                self._lib.nft_ctx_buffer_output(self._ctx)
                self._lib.nft_ctx_buffer_error(self._ctx)
            else:
                self._lib = None  # no context: nft processes from now on
        if self._lib is None or not self._ctx:
            done = subprocess.run(
                argv(self.namespace, [self.nft, "-f", "-"]),
                input=text,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise NftError(f"nft: {done.stderr.strip()[:2000]}")
            return done.stdout
        failed = self._lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
        out = self._lib.nft_ctx_get_output_buffer(self._ctx) or b""
        if failed:
            err = self._lib.nft_ctx_get_error_buffer(self._ctx) or b""
            raise NftError(f"nft: {err.decode(errors='replace').strip()[:2000]}")
        return str(out.decode(errors="replace"))

    def close(self) -> None:
        if self._lib is not None and self._ctx:
            self._lib.nft_ctx_free(self._ctx)
        self._ctx = None

    def __enter__(self) -> Nft:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
