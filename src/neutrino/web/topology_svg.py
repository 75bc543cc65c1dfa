"""The topology ``Picture`` as SVG text.

Written with f-strings rather than a Jinja template: a 40-network page has thousands of
attributes, almost all of them numbers, and Jinja escapes each one through markupsafe; here
only names and labels (the text a user typed) go through ``html.escape``, which brings the
render of a 400-port page from ~45 ms to ~10 ms (bench/web.py). Every class and data attribute
here is what the stylesheet, the live script and the browser tests look for.
"""

from __future__ import annotations

from html import escape

from neutrino.web.topology import BAR_H, Picture, status_class


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(pic: Picture, revision: int) -> str:
    w, h = int(pic.width), int(pic.height)
    title = (
        f"Network topology, page {pic.page} of {pic.pages}: {len(pic.bars)} networks, "
        f"{len(pic.routers)} routers, {len(pic.dots)} ports"
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="topology-svg" role="img" '
        f'aria-labelledby="topo-title" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'data-revision="{revision}"><title id="topo-title">{title}</title>'
    ]
    for b in pic.bars:
        external = " external" if b.external else ""
        out.append(
            f'<a href="/ui/networks/{b.id}" class="net{external}" data-network-id="{b.id}">'
            f'<rect x="{b.x:g}" y="{b.y:g}" width="{b.width:g}" height="{BAR_H}" rx="4"/>'
            f'<text x="{b.x + 6:g}" y="{b.y + 14:g}" class="net-name">{escape(b.name)}'
            f"{' (external)' if b.external else ''}</text>"
            f'<text x="{b.x + 6:g}" y="{b.y + 34:g}" class="net-cidr">{escape(b.cidrs)}</text></a>'
        )
    for r in pic.routers:
        out.append(
            f'<g class="router" data-router-id="{r.id}"><line x1="{r.x:g}" '
            f'y1="{r.y_top:g}" x2="{r.x:g}" y2="{r.y_bottom:g}"/>'
        )
        for j in r.joints:
            kind = "gateway" if j.gateway else "interface"
            extra = " gateway" if j.gateway else ""
            out.append(
                f'<a href="/ui/ports/{j.port_id}"><circle cx="{r.x:g}" cy="{j.y:g}" r="6" '
                f'class="port status-{status_class(j.status)}{extra}" '
                f'data-port-id="{j.port_id}" data-status="{escape(j.status)}">'
                f"<title>{kind} {escape(j.status)}</title></circle></a>"
            )
        out.append(
            f'<a href="/ui/routers/{r.id}"><rect x="{r.x - 48:g}" y="{r.box_y - 12:g}" '
            f'width="96" height="24" rx="6"/><text x="{r.x:g}" y="{r.box_y + 4:g}" '
            f'text-anchor="middle" class="router-name">{escape(_cut(r.name, 14))}</text></a></g>'
        )
    for d in pic.dots:
        fip = (
            (
                f'<text x="{d.x + 11:g}" y="{d.y + 24:g}" class="port-fip">FIP '
                f"{escape(d.floating)}</text>"
            )
            if d.floating
            else ""
        )
        out.append(
            f'<a href="/ui/ports/{d.id}" class="vm" data-port-id="{d.id}">'
            f'<line x1="{d.x:g}" y1="{d.bar_y + BAR_H:g}" x2="{d.x:g}" y2="{d.y - 7:g}"/>'
            f'<circle cx="{d.x:g}" cy="{d.y:g}" r="7" class="port status-{status_class(d.status)}"'
            f' data-status="{escape(d.status)}"><title>{escape(d.label)} {escape(d.status)}'
            f'</title></circle><text x="{d.x + 11:g}" y="{d.y - 2:g}" class="port-name">'
            f'{escape(_cut(d.label, 18))}</text><text x="{d.x + 11:g}" y="{d.y + 11:g}" '
            f'class="port-ip">{escape(_cut(d.address, 20))}</text>{fip}</a>'
        )
    out.append("</svg>")
    return "\n".join(out)
