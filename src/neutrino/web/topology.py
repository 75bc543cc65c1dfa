"""The topology picture, laid out on the server: pure functions from Neutron views to shapes.

Networks are horizontal bars, external networks on top; each router is a vertical line through
the bars of the networks it has an interface (or its gateway) on, with its box between the first
two; every other port is a dot on its network's row, coloured by status (ACTIVE green, DOWN red,
BUILD amber, anything else grey) and labelled with its name, address and floating IP. Every
shape links to its object's page.

Scale: paging by network. A page holds ``PAGE_SIZE`` networks (the external ones come again on
every page, since routers' gateways go there) with their routers and ports. Paging was chosen
over zoom and grouping: it keeps labels at a readable size without any script (zoom needs one
and shrinks text), keeps every port's colour visible (grouping folds ports away, and colour is
what the page is for), and bounds the server's work per page whatever the deployment's size
(200 networks / 2,000 ports is five pages of 40).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PAGE_SIZE = 40
LEFT = 16
ROUTER_W = 110
LABEL_W = 170
PORT_W = 150
BAR_H = 20
LINE_H = 56
ROW_GAP = 30
TOP = 16
MIN_WIDTH = 960
ROUTER_OWNERS = (
    "network:router_interface",
    "network:router_gateway",
    "network:router_interface_distributed",
    "network:ha_router_replicated_interface",
)


@dataclass
class Bar:
    id: str
    name: str
    external: bool
    cidrs: str
    y: float
    x: float
    width: float


@dataclass
class Dot:
    id: str
    label: str
    address: str
    floating: str
    status: str
    owner: str
    x: float
    y: float
    bar_y: float


@dataclass
class Joint:
    port_id: str
    y: float
    status: str
    gateway: bool


@dataclass
class RouterShape:
    id: str
    name: str
    x: float
    y_top: float
    y_bottom: float
    box_y: float
    joints: list[Joint] = field(default_factory=list)


@dataclass
class Picture:
    bars: list[Bar]
    dots: list[Dot]
    routers: list[RouterShape]
    width: float
    height: float
    page: int
    pages: int
    total_networks: int


def order_networks(networks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(networks, key=lambda n: (not n.get("router:external"), n["name"], n["id"]))


def page_networks(
    networks: list[dict[str, Any]], page: int
) -> tuple[list[dict[str, Any]], int, int]:
    """The networks of ``page`` (1-based, clamped): every external one, then a slice of the
    others; with the page number used and the page count."""
    ordered = order_networks(networks)
    external = [n for n in ordered if n.get("router:external")]
    internal = [n for n in ordered if not n.get("router:external")]
    pages = max(1, -(-len(internal) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return external + internal[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], page, pages


def lay_out(
    networks: list[dict[str, Any]],
    subnets: list[dict[str, Any]],
    ports: list[dict[str, Any]],
    routers: list[dict[str, Any]],
    floatingips: list[dict[str, Any]],
    page: int = 1,
) -> Picture:
    """The picture of one page. ``ports``, ``subnets`` may hold more than the page needs."""
    shown, page, pages = page_networks(networks, page)
    shown_ids = {n["id"] for n in shown}
    cidrs: dict[str, list[str]] = {}
    for s in subnets:
        cidrs.setdefault(s["network_id"], []).append(s["cidr"])
    floating = {f["port_id"]: f["floating_ip_address"] for f in floatingips if f.get("port_id")}
    router_ports: dict[str, list[dict[str, Any]]] = {}
    hosts: dict[str, list[dict[str, Any]]] = {}
    for p in ports:
        if p["network_id"] not in shown_ids:
            continue
        if p["device_owner"] in ROUTER_OWNERS:
            router_ports.setdefault(p["device_id"], []).append(p)
        elif p["device_owner"] != "network:floatingip":
            hosts.setdefault(p["network_id"], []).append(p)
    drawn = sorted(
        (r for r in routers if r["id"] in router_ports), key=lambda r: (r["name"], r["id"])
    )
    ports_x = LEFT + LABEL_W + len(drawn) * ROUTER_W + 20
    width = max(MIN_WIDTH, ports_x + 5 * PORT_W)
    per_line = max(1, int((width - ports_x) // PORT_W))

    bars: list[Bar] = []
    dots: list[Dot] = []
    y = TOP
    for n in shown:
        members = sorted(hosts.get(n["id"], []), key=lambda p: (p["name"], p["id"]))
        bars.append(
            Bar(
                n["id"],
                n["name"] or n["id"][:8],
                bool(n.get("router:external")),
                ", ".join(sorted(cidrs.get(n["id"], []))),
                y,
                LEFT,
                width - LEFT,
            )
        )
        for i, p in enumerate(members):
            line, col = divmod(i, per_line)
            dots.append(
                Dot(
                    p["id"],
                    p["name"] or _owner_label(p),
                    ", ".join(ip["ip_address"] for ip in p["fixed_ips"]),
                    floating.get(p["id"], ""),
                    p["status"],
                    p["device_owner"],
                    ports_x + col * PORT_W + 8,
                    y + BAR_H + 18 + line * LINE_H,
                    y,
                )
            )
        lines = max(1, -(-len(members) // per_line))
        y += BAR_H + lines * LINE_H + ROW_GAP

    bar_y = {b.id: b.y for b in bars}
    shapes = []
    for i, r in enumerate(drawn):
        joints = sorted(
            (
                Joint(
                    p["id"],
                    bar_y[p["network_id"]] + BAR_H / 2,
                    p["status"],
                    p["device_owner"] == "network:router_gateway",
                )
                for p in router_ports[r["id"]]
            ),
            key=lambda j: j.y,
        )
        top, bottom = joints[0].y, joints[-1].y
        box = (top + joints[1].y) / 2 if len(joints) > 1 else top + BAR_H + 6
        shapes.append(
            RouterShape(
                r["id"],
                r["name"] or r["id"][:8],
                LEFT + LABEL_W + i * ROUTER_W + ROUTER_W / 2,
                top,
                max(bottom, box),
                box,
                joints,
            )
        )
    return Picture(bars, dots, shapes, width, y, page, pages, len(networks))


def _owner_label(port: dict[str, Any]) -> str:
    owner = str(port["device_owner"])
    if owner == "network:dhcp":
        return "DHCP"
    return str(port["id"])[:8]


def status_class(status: str) -> str:
    return {"ACTIVE": "active", "DOWN": "down", "BUILD": "build"}.get(status, "other")
