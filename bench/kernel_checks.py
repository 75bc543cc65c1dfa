#!/usr/bin/env python3
"""Round trip of a trace's kernel check (``service/kernel_checks.py``): filed, taken by the
agent's long-poll, answered, read back by the asker; the agent's long-poll in the asking
process against one in another process (issue 16: the checks live in the database).

Method
------
One database (a fresh SQLite file, or ``--db URL``), two ``Store``s on it, a broker on each:
``A`` is the process a trace reached, ``B`` another server process (its own engine, its own
poller thread: what a second ``serve`` has; the HTTP hops are left out). An agent loop (an
event loop in a thread, as the API runs the long-poll) waits in ``pending`` on A or on B and
answers each check at once with one difference line. Each round ``A.ask(["hv1"])`` is timed
(``time.perf_counter``), ``--rounds`` times per placement, side by side in one run. The
figure is what the broker adds to a ``verify``; the agents' drift check itself comes on top.
Output: JSON on stdout, a summary on stderr.

    .venv/bin/python bench/kernel_checks.py [--rounds 50] [--db URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from stats import summary  # bench/stats.py

from neutrino.service.kernel_checks import KernelChecks
from neutrino.store.models import Base
from neutrino.store.uow import Store


def _agent(broker: KernelChecks, stop: threading.Event) -> threading.Thread:
    async def loop() -> None:
        while not stop.is_set():
            for check in await broker.pending("hv1", timeout=1.0):
                broker.answer("hv1", check, {"differences": ["missing tapx"]})

    thread = threading.Thread(target=lambda: asyncio.run(loop()), daemon=True)
    thread.start()
    return thread


def _rounds(asker: KernelChecks, agent: KernelChecks, rounds: int) -> list[float]:
    stop = threading.Event()
    thread = _agent(agent, stop)
    time.sleep(0.5)  # the long-poll waits before the first check
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        answers = asker.ask(["hv1"], timeout=10.0)
        out.append(time.perf_counter() - started)
        assert answers == {"hv1": ["missing tapx"]}, answers
        time.sleep(0.05)  # the agent is back in its long-poll
    stop.set()
    thread.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'checks.db'}"
        first, second = Store(url), Store(url)
        Base.metadata.create_all(first.engines.write)
        a, b = KernelChecks(first), KernelChecks(second)
        results: dict[str, Any] = {"db": url.split(":", 1)[0], "rounds": args.rounds}
        results["same_process"] = summary(_rounds(a, a, args.rounds))
        results["other_process"] = summary(_rounds(a, b, args.rounds))
        results["load"] = os.getloadavg()
        for broker in (a, b):
            broker.close()
        first.dispose()
        second.dispose()
    json.dump(results, sys.stdout, indent=2)
    print(file=sys.stdout)
    for key in ("same_process", "other_process"):
        s = results[key]
        print(f"{key}: {s}", file=sys.stderr)
    print(f"load average {results['load']}", file=sys.stderr)


if __name__ == "__main__":
    main()
