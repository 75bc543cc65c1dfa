"""A "something changed" signal raised from any thread and awaited on event loops or threads.

Thousands of agent long-polls wait for the change log at once; a thread each would cost a
stack and a scheduler slot per agent. ``Wakeup`` keeps a generation counter instead: a waiter
notes ``generation`` *before* it looks at the thing it waits on, then waits for the counter to
move past it, so a ``notify`` between its look and its wait is never lost.

``notify`` may run on any thread (a committing request, the change feed's listener). It wakes
asyncio waiters with one ``call_soon_threadsafe`` per event loop (not per waiter: a commit
with 5,000 waiters writes one byte to each loop's self-pipe) and threads through a
``threading.Condition``. Imports nothing of neutrino.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time


class Wakeup:
    def __init__(self) -> None:
        self.generation = 0
        self._cond = threading.Condition()
        self._futures: dict[asyncio.AbstractEventLoop, set[asyncio.Future[None]]] = {}

    def notify(self) -> None:
        with self._cond:
            self.generation += 1
            waiting, self._futures = self._futures, {}
            self._cond.notify_all()
        for loop, futures in waiting.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                loop.call_soon_threadsafe(_resolve, futures)

    async def wait(self, seen: int, timeout: float) -> bool:
        """Wait on the running loop until a ``notify`` after generation ``seen`` or ``timeout``
        seconds; whether one came."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self.generation != seen:
                return True
            self._futures.setdefault(loop, set()).add(future)
        try:
            await asyncio.wait_for(future, max(timeout, 0.0))
            return True
        except TimeoutError:
            with self._cond:
                self._futures.get(loop, set()).discard(future)
            return self.generation != seen

    def wait_blocking(self, seen: int, timeout: float) -> bool:
        """The same for a thread."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            while self.generation == seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True


def _resolve(futures: set[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
