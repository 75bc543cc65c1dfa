"""The link watcher survives a re-listing that the kernel keeps interrupting.

After dropped events (ENOBUFS) the watcher lists the namespace's devices again; while taps
are made by the thousand that dump can be interrupted on every attempt (EAGAIN). The bench
of a 5,000-port host saw the agent die of it; now the last list stays and the loop is woken.
"""

from __future__ import annotations

import errno

import pytest

from neutrino.agent import linkwatch
from neutrino.agent.dataplane.rtnl import RTM_NEWLINK
from neutrino.agent.linkwatch import LinkWatcher
from neutrino.agent.model import TAP_PREFIX


def test_an_interrupted_relisting_keeps_the_last_list_and_wakes_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    woken: list[int] = []
    watcher = LinkWatcher(None, lambda: woken.append(1))
    watcher._known = {1, 2}

    def interrupted(namespace: str | None) -> set[int]:
        raise BlockingIOError(errno.EAGAIN, "link dump interrupted repeatedly")

    monkeypatch.setattr(linkwatch, "link_indexes", interrupted)
    watcher._relist()
    assert watcher._known == {1, 2} and woken == [1]
    # a tap the lost list lacks wakes the loop once, at its next event
    assert watcher._relevant(RTM_NEWLINK, 3, TAP_PREFIX + "5a0c3e7f-11")
    assert not watcher._relevant(RTM_NEWLINK, 3, TAP_PREFIX + "5a0c3e7f-11")

    monkeypatch.setattr(linkwatch, "link_indexes", lambda namespace: {1, 4})
    watcher._relist()
    assert watcher._known == {1, 4} and woken == [1, 1]
