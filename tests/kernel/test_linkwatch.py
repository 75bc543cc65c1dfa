"""The link watcher wakes the loop for a new tap and for a vanished owned device, not for
other devices or for later changes to a device it has seen."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from neutrino.agent.linkwatch import LinkWatcher
from tests.kernel.lab import NetnsLab, run


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    def wait_for(self, count: int, timeout: float = 3.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < count and time.monotonic() < deadline:
            self.event.wait(0.05)
            self.event.clear()
        return self.count >= count


@pytest.fixture
def watched(lab: NetnsLab) -> Iterator[tuple[str, Counter]]:
    ns = lab.ns("hv", ipv6=False)
    counter = Counter()
    stop = threading.Event()
    watcher = LinkWatcher(ns, counter, poll=0.1)
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    assert watcher.ready.wait(5)
    assert counter.wait_for(1)  # the wake at start
    counter.count = 0
    try:
        yield ns, counter
    finally:
        stop.set()
        thread.join(2)


def test_a_new_tap_wakes_once_and_its_removal_wakes_again(watched: tuple[str, Counter]) -> None:
    ns, counter = watched
    run("ip", "-n", ns, "link", "add", "tapaaaaaaaa-11", "type", "veth", "peer", "name", "vm0")
    assert counter.wait_for(1)
    run("ip", "-n", ns, "link", "set", "tapaaaaaaaa-11", "up")
    run("ip", "-n", ns, "link", "set", "tapaaaaaaaa-11", "mtu", "1450")
    time.sleep(0.4)
    assert counter.count == 1  # changes to a known device are our own apply's echo

    run("ip", "-n", ns, "link", "del", "tapaaaaaaaa-11")
    assert counter.wait_for(2)


def test_foreign_devices_do_not_wake_but_a_deleted_bridge_does(
    watched: tuple[str, Counter],
) -> None:
    ns, counter = watched
    run("ip", "-n", ns, "link", "add", "eth7", "type", "veth", "peer", "name", "eth8")
    run("ip", "-n", ns, "link", "add", "brqbbbbbbbb-22", "type", "bridge")
    time.sleep(0.4)
    assert counter.count == 0  # a bridge appearing is our own doing; eth* is not ours

    run("ip", "-n", ns, "link", "del", "brqbbbbbbbb-22")
    assert counter.wait_for(1)  # a hand-deleted bridge is repaired now, not at resync
