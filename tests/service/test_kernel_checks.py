"""The kernel-check broker (service/kernel_checks.py) on its own: a check filed while an agent
waits wakes it at once, answers reach the asker, silence is None, and ``close`` ends waiting
long-polls (server shutdown)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from neutrino.common.errors import BadRequest, NotFound
from neutrino.service.kernel_checks import KernelChecks


def test_a_waiting_agent_is_woken_and_its_answer_reaches_the_asker() -> None:
    checks = KernelChecks()
    result: dict[str, object] = {}

    def ask() -> None:
        result.update(checks.ask(["hv1", "hv2"], timeout=5.0))

    async def agent() -> float:
        started = time.monotonic()
        asker = threading.Thread(target=ask)
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, asker.start)
        ids = await checks.pending("hv1", timeout=10.0)
        waited = time.monotonic() - started
        assert len(ids) == 1
        with pytest.raises(NotFound):
            checks.answer("hv2", ids[0], {"differences": []})  # another host's check
        checks.answer("hv1", ids[0], {"differences": ["missing tapx"]})
        assert await checks.pending("hv1", timeout=0) == []  # taken once
        await loop.run_in_executor(None, asker.join)
        return waited

    waited = asyncio.run(agent())
    assert waited < 3.0  # woken by the filing, not by the 10 s timeout
    assert result == {"hv1": ["missing tapx"], "hv2": None}  # hv2 never answered


def test_bad_answers_and_close() -> None:
    checks = KernelChecks()
    for body in (None, {"differences": "x"}, {"differences": [1]}):
        with pytest.raises(BadRequest):
            checks.answer("hv1", "x", body)

    async def waiting() -> float:
        started = time.monotonic()
        asyncio.get_running_loop().call_later(0.2, checks.close)
        assert await checks.pending("hv1", timeout=10.0) == []
        return time.monotonic() - started

    assert asyncio.run(waiting()) < 3.0
