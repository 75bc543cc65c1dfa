"""Shutting down quickly: long-polls end when the server is told to stop.

uvicorn stops on SIGINT/SIGTERM by closing its sockets and then waiting for every open
request to finish; an agent's long-poll (up to 30 s, answered by a worker thread that asyncio
cannot cancel) would hold the exit that long. ``on_exit_signals`` chains a callback in front
of the handlers uvicorn installed: the app's lifespan calls it at startup (uvicorn has set
its handlers by then, in every worker process) with a callback that ends all waits
(``Store.close_waits``: each long-poll answers "nothing changed" at once) and runs the hooks
in ``app.state.on_exit`` (``serve --agent`` stops its local agent there, in parallel).
Off the main thread (a test client's portal) signals cannot be caught: nothing is done.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["on_exit_signals"]

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_exit_signals(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` (once) before the current SIGINT/SIGTERM handlers; returns an undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    done: list[bool] = []
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        if not done:
            done.append(True)
            try:
                callback()
            except Exception:  # never let a hook keep the server from stopping
                log.exception("shutdown hook failed")
        prior = previous[signal.Signals(signum)]
        if callable(prior):
            prior(signum, frame)
        elif prior == signal.SIG_DFL:
            signal.default_int_handler(signum, frame)

    for sig in SIGNALS:
        signal.signal(sig, handler)

    def undo() -> None:
        for sig, prior in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, prior)

    return undo
