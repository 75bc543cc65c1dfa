"""The kernel-check broker (service/kernel_checks.py) on a real database (SQLite, and
PostgreSQL when configured): a check filed while an agent waits wakes it at once, answers reach
the asker, silence is None, ``close`` ends waiting long-polls (server shutdown), and two
brokers on two ``Store``s of one database (as two server processes have) hand checks and
answers to each other."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from neutrino.common.errors import BadRequest, NotFound
from neutrino.service.kernel_checks import KernelChecks
from neutrino.store.uow import Store


def test_a_waiting_agent_is_woken_and_its_answer_reaches_the_asker(store: Store) -> None:
    checks = KernelChecks(store)
    result: dict[str, object] = {}

    def ask() -> None:
        result.update(checks.ask(["hv1", "hv2"], timeout=5.0))

    async def agent() -> float:
        started = time.monotonic()
        asker = threading.Thread(target=ask)
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, asker.start)
        ids = [c["id"] for c in await checks.pending("hv1", timeout=10.0)]
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


def test_bad_answers_and_close(store: Store) -> None:
    checks = KernelChecks(store)
    for body in (None, {"differences": "x"}, {"differences": [1]}):
        with pytest.raises(BadRequest):
            checks.answer("hv1", "x", body)

    async def waiting() -> float:
        started = time.monotonic()
        asyncio.get_running_loop().call_later(0.2, checks.close)
        assert await checks.pending("hv1", timeout=10.0) == []
        return time.monotonic() - started

    assert asyncio.run(waiting()) < 3.0


def test_two_brokers_on_one_database(store: Store) -> None:
    """The trace reaches one process (``asking``), the agent long-polls another
    (``polled``): the filing wakes the other's long-poll through the database and the answer
    given there reaches the asker; a late answer is refused."""
    other = Store(str(store.engines.write.url.render_as_string(hide_password=False)))
    asking, polled = KernelChecks(store), KernelChecks(other)
    result: dict[str, object] = {}
    try:

        async def agent() -> tuple[float, str]:
            loop = asyncio.get_running_loop()
            asker = threading.Thread(target=lambda: result.update(asking.ask(["hv1"], 8.0)))
            started = time.monotonic()
            loop.call_later(0.3, asker.start)
            ids = [c["id"] for c in await polled.pending("hv1", timeout=10.0)]
            waited = time.monotonic() - started
            assert len(ids) == 1
            polled.answer("hv1", ids[0], {"differences": ["missing fdb vxlan-5 x"]})
            await loop.run_in_executor(None, asker.join)
            return waited, ids[0]

        waited, check_id = asyncio.run(agent())
        assert waited < 3.0  # woken by the other broker's filing, not by the timeout
        assert result == {"hv1": ["missing fdb vxlan-5 x"]}
        with pytest.raises(NotFound):  # the asker is gone: its check with it
            polled.answer("hv1", check_id, {"differences": []})
    finally:
        polled.close()
        other.dispose()


def test_a_long_poll_for_another_host_writes_nothing(store: Store) -> None:
    """Woken by a check for hv1, hv2's long-poll (in another broker) neither takes it nor
    writes: the filing names the hosts it is for."""
    other = Store(str(store.engines.write.url.render_as_string(hide_password=False)))
    writes: list[float] = []
    other.observe = lambda kind, seconds: writes.append(seconds) if kind == "write" else None
    asking, polled = KernelChecks(store), KernelChecks(other)
    result: dict[str, object] = {}
    try:

        async def agent() -> list[str]:
            loop = asyncio.get_running_loop()
            asker = threading.Thread(target=lambda: result.update(asking.ask(["hv1"], 1.0)))
            loop.call_later(0.2, asker.start)
            found = await polled.pending("hv2", timeout=2.0)
            await loop.run_in_executor(None, asker.join)
            return found

        assert asyncio.run(agent()) == []
        assert result == {"hv1": None}  # nobody answered for hv1
        assert writes == []
    finally:
        polled.close()
        other.dispose()


def test_a_probe_request_goes_with_the_check_and_its_report_comes_back(store: Store) -> None:
    """A check may carry a request (a trace's probe) to its host only, and the answer a
    probe report, validated; an answer without one (an older agent) still counts."""
    checks = KernelChecks(store)
    result: dict[str, object] = {}
    request = {"probe": {"mark": 42, "match": "ip id 42 ip protocol 1"}}
    line = ["host", "hv1", "trace id 1 bridge nprobe-2a trace_in packet: iif tapx"]

    async def agents() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        loop = asyncio.get_running_loop()
        asker = threading.Thread(
            target=lambda: result.update(checks.ask_with(["hv1", "hv2"], 5.0, {"hv1": request}))
        )
        loop.call_later(0.1, asker.start)
        one = await checks.pending("hv1", timeout=10.0)
        two = await checks.pending("hv2", timeout=10.0)
        for bad in ({"lines": "x"}, {"lines": [["host", "hv1"]]}, {"error": 3}, {"other": 1}):
            with pytest.raises(BadRequest):
                checks.answer("hv1", str(one[0]["id"]), {"differences": [], "probe": bad})
        report = {"lines": [line], "sent": True, "milliseconds": {"setup": 300.5}}
        checks.answer("hv1", str(one[0]["id"]), {"differences": [], "probe": report})
        checks.answer("hv2", str(two[0]["id"]), {"differences": ["missing tapy"]})
        await loop.run_in_executor(None, asker.join)
        return one, two

    one, two = asyncio.run(agents())
    assert one[0]["probe"] == request["probe"] and "probe" not in two[0]
    assert result == {
        "hv1": {
            "differences": [],
            "probe": {
                "lines": [line],
                "error": None,
                "milliseconds": {"setup": 300.5},
                "sent": True,
            },
        },
        "hv2": {"differences": ["missing tapy"]},
    }
