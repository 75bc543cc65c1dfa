"""The normal form the nft drift check compares elements in (agent/dataplane/nft_drift.py):
our rendering and the kernel's JSON listing of the same element must meet, and differ when
the element differs."""

from __future__ import annotations

import pytest

from neutrino.agent.dataplane.nft_drift import _kernel_element, canonical_element

MAC = "fa:16:3e:00:00:01"


@pytest.mark.parametrize(
    "ours, kernel",
    [
        (f'"tapabc" . {MAC} . 192.0.2.5', {"concat": ["tapabc", MAC, "192.0.2.5"]}),
        (
            f'"tapabc" . {MAC} . 192.0.2.0/28',
            {"concat": ["tapabc", MAC, {"prefix": {"addr": "192.0.2.0", "len": 28}}]},
        ),
        (f'"tapabc" . {MAC} . 2001:db8:0:0::5', {"concat": ["tapabc", MAC, "2001:db8::5"]}),
        ("192.0.2.5/32", "192.0.2.5"),
        ("192.0.2.64/26", {"prefix": {"addr": "192.0.2.64", "len": 26}}),
        ('"tapabc" : jump in-abc', ["tapabc", {"jump": {"target": "in-abc"}}]),
        ('"brqabc" : 123', ["brqabc", 123]),
        (f"{MAC} : accept", [MAC, {"accept": None}]),  # a verdict map (stateless groups)
        (f'"tapabc" . {MAC.upper()}', {"concat": ["tapabc", MAC]}),
    ],
)
def test_our_rendering_and_the_kernel_listing_meet(ours: str, kernel: object) -> None:
    assert canonical_element(ours) == _kernel_element(kernel)


def test_a_different_element_stays_different() -> None:
    ours = canonical_element(f'"tapabc" . {MAC} . 192.0.2.5')
    assert ours != _kernel_element({"concat": ["tapabd", MAC, "192.0.2.5"]})
    assert ours != _kernel_element({"concat": ["tapabc", MAC, "192.0.2.6"]})
    assert canonical_element('"tapabc" : jump in-abc') != _kernel_element(
        ["tapabc", {"jump": {"target": "in-abd"}}]
    )
