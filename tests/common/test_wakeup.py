"""``Wakeup``: a notify from any thread wakes event-loop and thread waiters; none is lost
between a waiter's look and its wait."""

from __future__ import annotations

import asyncio
import threading
import time

from neutrino.common.wakeup import Wakeup


def test_a_notify_from_another_thread_wakes_every_waiter_of_a_loop() -> None:
    wakeup = Wakeup()

    async def scenario() -> list[bool]:
        seen = wakeup.generation
        waiters = [asyncio.create_task(wakeup.wait(seen, 10.0)) for _ in range(100)]
        await asyncio.sleep(0.05)
        threading.Thread(target=wakeup.notify).start()
        started = time.monotonic()
        woke = await asyncio.gather(*waiters)
        assert time.monotonic() - started < 5.0
        return woke

    assert asyncio.run(scenario()) == [True] * 100


def test_a_notify_before_the_wait_is_not_lost_and_a_timeout_says_so() -> None:
    wakeup = Wakeup()
    seen = wakeup.generation
    wakeup.notify()  # between the waiter's look and its wait
    assert asyncio.run(wakeup.wait(seen, 10.0)) is True
    assert wakeup.wait_blocking(seen, 10.0) is True
    started = time.monotonic()
    assert asyncio.run(wakeup.wait(wakeup.generation, 0.2)) is False
    assert wakeup.wait_blocking(wakeup.generation, 0.2) is False
    assert time.monotonic() - started >= 0.4


def test_a_blocked_thread_wakes_on_a_notify() -> None:
    wakeup = Wakeup()
    seen = wakeup.generation
    out: list[bool] = []
    waiter = threading.Thread(target=lambda: out.append(wakeup.wait_blocking(seen, 10.0)))
    waiter.start()
    time.sleep(0.05)
    wakeup.notify()
    waiter.join(5.0)
    assert out == [True]
