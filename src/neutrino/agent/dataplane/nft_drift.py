"""Drift check, security-group part: how neutrino's nft tables differ from calc's ``SgRuleset``.

``sg_drift(netns, ruleset)`` reads the namespace's ``table inet neutrino`` and ``table bridge
neutrino`` as JSON (``nft -j list table``: read only, one listing each) and compares them
with the ruleset the security-group manager would load:

* a table missing (``nft table bridge neutrino``: everything in it is missing with it);
* a chain missing or extra (``nft chain bridge in-…``), by name;
* every set and map element the ruleset holds (the port bindings ``p_mac``, ``p_ip4``/``6``,
  ``p_net4``/``6``, the verdict maps ``port_in``/``port_out``, the remote-group sets
  ``rg4-…``/``rg6-…``, the address-group sets ``ag4-…``/``ag6-…``, the zone map ``br_zone``):
  missing or extra, one ``Drift`` each
  (``nft bridge p_ip4 tap… . fa:16:… . 192.0.2.5``). A set missing as a whole is one line.

Elements are compared in one normal form on both sides (quotes dropped, addresses in
Python's canonical text, a host prefix /32 or /128 written bare, map values as nft prints
them), so the kernel's listing and our rendering agree exactly on a converged host.

Rule bodies inside the chains are not compared: the manager replaces a chain only with its
table, and the rules are the same text for every port of a group set; the elements are where
one port, one member or one binding can go missing by hand.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from typing import Any

from neutrino.agent.dataplane.drift import Drift
from neutrino.agent.dataplane.netns import argv
from neutrino.agent.dataplane.nftables import NftError
from neutrino.agent.sg_calc import SgRuleset
from neutrino.agent.sg_nft import TABLE

__all__ = ["canonical_element", "sg_drift"]

_CHAIN = re.compile(r"^\s*chain (\S+) \{", re.MULTILINE)
_TABLE_TEXT = re.compile(r"^table (inet|bridge) \S+ \{$", re.MULTILINE)


def _part(text: str) -> str:
    text = text.strip().strip('"')
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return text.lower() if re.fullmatch(r"[0-9a-fA-F:]{17}", text) else text
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def canonical_element(text: str) -> str:
    """An element as we render it (``"tap…" . mac . addr``, ``"tap…" : jump in-…``) in the
    normal form both sides are compared in."""
    key, sep, value = text.partition(" : ")
    out = " . ".join(_part(p) for p in key.split(" . "))
    return f"{out} : {value.strip()}" if sep else out


def _json_part(value: Any) -> str:
    if isinstance(value, dict):
        if "prefix" in value:
            p = value["prefix"]
            return _part(f"{p['addr']}/{p['len']}")
        if "range" in value:
            low, high = value["range"]
            return f"{_json_part(low)}-{_json_part(high)}"
        if "concat" in value:
            return " . ".join(_json_part(v) for v in value["concat"])
        if "elem" in value:
            return _json_part(value["elem"].get("val"))
        for verdict in ("jump", "goto"):
            if verdict in value:
                return f"{verdict} {value[verdict]['target']}"
        for verdict in ("accept", "drop", "continue", "return", "notrack"):
            if value == {verdict: None}:  # a plain verdict: {"accept": null}
                return verdict
        return json.dumps(value, sort_keys=True)
    return _part(str(value))


def _kernel_element(item: Any) -> str:
    if isinstance(item, list):  # a map element: [key, value]
        return f"{_json_part(item[0])} : {_json_part(item[1])}"
    return _json_part(item)


def _read(netns: str | None, family: str, nft: str = "nft") -> list[dict[str, Any]] | None:
    """The table's JSON listing, or None when the table is not there. ``nft -j`` runs as a
    process: the in-process ``Nft`` context is set up for text, and a check is rare."""
    done = subprocess.run(
        argv(netns, [nft, "-j", "list", "table", family, TABLE]), capture_output=True, text=True
    )
    if done.returncode != 0:
        if "No such file or directory" in done.stderr:
            return None
        raise NftError(f"nft: {done.stderr.strip()[:2000]}")
    return list(json.loads(done.stdout).get("nftables", []))


def _desired_chains(text: str) -> dict[str, set[str]]:
    """family -> chain names of the ruleset's text."""
    out: dict[str, set[str]] = {"inet": set(), "bridge": set()}
    parts = _TABLE_TEXT.split(text)
    for family, body in zip(parts[1::2], parts[2::2], strict=True):
        out[family] |= set(_CHAIN.findall(body))
    return out


def sg_drift(netns: str | None, ruleset: SgRuleset) -> list[Drift]:
    """Every difference between the kernel's neutrino tables and ``ruleset`` (sorted)."""
    out: list[Drift] = []
    chains = _desired_chains(ruleset.text)
    for family in ("inet", "bridge"):
        listing = _read(netns, family)
        if listing is None:
            out.append(Drift(f"nft table {family} {TABLE}", "missing"))
            continue
        have_chains = {o["chain"]["name"] for o in listing if "chain" in o}
        out += [Drift(f"nft chain {family} {c}", "missing") for c in chains[family] - have_chains]
        out += [Drift(f"nft chain {family} {c}", "extra") for c in have_chains - chains[family]]
        have_sets = {
            o[kind]["name"]: {_kernel_element(e) for e in o[kind].get("elem", ())}
            for o in listing
            for kind in ("set", "map")
            if kind in o
        }
        for key, elements in sorted(ruleset.elements.items()):
            fam, name = key.split(" ")
            if fam != family:
                continue
            if name not in have_sets:
                out.append(Drift(f"nft set {family} {name}", "missing"))
                continue
            want = {canonical_element(e) for e in elements}
            have = have_sets[name]
            out += [Drift(f"nft {family} {name} {e}", "missing") for e in want - have]
            out += [Drift(f"nft {family} {name} {e}", "extra") for e in have - want]
        wanted_sets = {k.split(" ")[1] for k in ruleset.elements if k.startswith(family)}
        out += [Drift(f"nft set {family} {n}", "extra") for n in set(have_sets) - wanted_sets]
    return sorted(out)
