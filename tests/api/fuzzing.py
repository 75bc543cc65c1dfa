"""Request generation for the fuzz suite (``test_fuzz.py``): seeded, driven by /openapi.json.

``Fuzzer`` picks a public operation of the published document and makes one request for it:

- **path values**: a real id of the right kind (so the request reaches the service), a random
  UUID, or a hostile segment (over-long, unicode, NUL, ``..``, percent-encodings);
- **query**: for lists, declared filters with values of their type or hostile ones (wrong
  types, huge/negative/float/NaN numbers, NUL, unicode, over-long), repeated keys, unknown
  keys, and ``sort_key``/``sort_dir``/``limit``/``marker``/``page_reverse``/``fields`` edge
  cases;
- **body**: an instance of the operation's body schema (generated from the schema, with real
  ids where a UUID is asked), then mutated: values of the wrong type, huge/negative/float
  numbers, NaN/Infinity tokens, deep nesting, unicode, NUL, over-long strings, nulls, empty and
  duplicate keys, bulk lists; or no body, a non-object, broken JSON or invalid UTF-8;
- **headers**: the admin's or the member's token, sometimes none or a forged one, ``If-Match``
  and ``X-Subject-Token`` variants. Header bytes HTTP itself forbids (control characters) are
  left out: the HTTP parser answers those with 400 and closes the connection, as HTTP asks.

Keystone path ids are a victim's (a user, project and role made for the run), never those of
the admin or member the run authenticates as: deleting them is fair game.

Everything comes from one ``random.Random``: the same seed gives the same requests (ids of the
resources the run itself creates aside).
"""

from __future__ import annotations

import json
import random
import string
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.api.fuzz_values import HUGE, ID_KINDS, JSON_VALUES, RAW_TOKENS, TEXT


@dataclass
class FuzzRequest:
    method: str
    path: str  # already percent-encoded, as sent
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    operation: str = ""

    def describe(self) -> str:
        body = "" if self.body is None else self.body.decode("utf-8", "backslashreplace")
        return (
            f"{self.method} {self.path} query={self.query!r}\n"
            f"  headers={self.headers!r}\n  body={body}"
        )


class Fuzzer:
    def __init__(
        self,
        rng: random.Random,
        document: dict[str, Any],
        ids: dict[str, list[str]],
        tokens: dict[str, str],
    ) -> None:
        self.rng = rng
        self.ids = ids  # kind ("networks", "project_id", ...) -> real ids
        self.tokens = tokens
        self.operations = [
            (path, method, op)
            for path, ops in document["paths"].items()
            for method, op in ops.items()
            if not op.get("x-internal")
        ]

    # --- the request ------------------------------------------------------------------------

    def request(self, index: int) -> FuzzRequest:
        """The ``index``-th request: operations in turn, so each is hit as often as any."""
        path, method, op = self.operations[index % len(self.operations)]
        r = self.rng
        req = FuzzRequest(method.upper(), self._path(path), operation=f"{method.upper()} {path}")
        req.headers = self._headers(path, method)
        if method == "get" or r.random() < 0.3:
            req.query = self._query(op)
        if method in ("post", "put", "patch") or r.random() < 0.05:
            req.body = self._body(op)
            req.headers["Content-Type"] = r.choice(
                ["application/json"] * 8 + ["text/plain", "application/x-www-form-urlencoded"]
            )
        return req

    def _headers(self, path: str, method: str) -> dict[str, str]:
        r = self.rng
        roll = r.random()
        headers = {}
        if roll < 0.45:
            headers["X-Auth-Token"] = self.tokens["admin"]
        elif roll < 0.9:
            headers["X-Auth-Token"] = self.tokens["member"]
        elif roll < 0.95:
            headers["X-Auth-Token"] = r.choice(
                ["garbage", "a" * 5000, "%00", "gAAAA.b.c", self.tokens["admin"][:-3] + "abc"]
            )
        if method in ("put", "delete") and r.random() < 0.3:
            headers["If-Match"] = r.choice(
                [
                    "revision_number=1",
                    "revision_number=x",
                    "revision_number=99999999999999999999",
                    "revision_number=-1",
                    "*",
                    "revision_number=",
                    "revision_number=1,revision_number=2",
                ]
            )
        if path == "/v3/auth/tokens" and r.random() < 0.9:
            # The run's own tokens only where nothing revokes them.
            own = [self.tokens["admin"], self.tokens["member"]] if method != "delete" else []
            headers["X-Subject-Token"] = r.choice(
                [*own, self.tokens["victim"], "garbage", "x" * 3000, "%00"]
            )
        return headers

    # --- path ---------------------------------------------------------------------------------

    def _path(self, template: str) -> str:
        out = []
        collection = ""
        for segment in template.split("/"):
            if segment.startswith("{"):
                out.append(self._path_value(segment[1:-1], collection))
            else:
                out.append(segment)
                collection = segment
        return "/".join(out)

    def _path_value(self, name: str, collection: str) -> str:
        r = self.rng
        roll = r.random()
        kind = collection if name == "resource_id" else name
        if name == "collection":
            return r.choice(
                [
                    "networks",
                    "subnets",
                    "ports",
                    "routers",
                    "floatingips",
                    "security-groups",
                    "nope",
                    "..",
                    "%2e%2e",
                ]
            )
        if roll < 0.6 and self.ids.get(kind):
            return r.choice(self.ids[kind])
        if roll < 0.7:
            return str(uuid.UUID(int=r.getrandbits(128)))
        return r.choice(
            [
                "x" * r.choice([255, 256, 1000, 4000]),
                quote("日本語\U0001f600"),
                "%00",
                "a%00b",
                "..",
                "%2e%2e",
                "%2F",
                "%252F",
                "%",
                "%zz",
                "%ff%fe",
                quote("\u202e"),
                "-1",
                "9223372036854775808",
                "null",
                "' OR 1=1",
                quote(r.choice(TEXT), safe=""),
                quote(self._text(), safe=""),
            ]
        )

    # --- query ----------------------------------------------------------------------------

    def _query(self, op: dict[str, Any]) -> list[tuple[str, str]]:
        r = self.rng
        params = [p for p in op.get("parameters", []) if p["in"] == "query"]
        out: list[tuple[str, str]] = []
        for _ in range(r.choice([0, 1, 1, 2, 3, 5])):
            if params and r.random() < 0.9:
                p = r.choice(params)
                for _ in range(r.choice([1, 1, 1, 2, 3])):  # repeated keys
                    out.append((p["name"], self._query_value(p["name"], p["schema"])))
            else:
                out.append(
                    (
                        r.choice(
                            [
                                "foo",
                                "",
                                "x" * 300,
                                "id\x00",
                                "fields[]",
                                "tenant_id ",
                                "limit%00",
                                "日本",
                            ]
                        ),
                        self._text(),
                    )
                )
        return out

    def _query_value(self, name: str, schema: dict[str, Any]) -> str:
        r = self.rng
        if r.random() < 0.4:
            return r.choice(HUGE + TEXT) if r.random() < 0.8 else self._text()
        if name == "limit":
            return r.choice(["0", "1", "2", "5", "1000"])
        if name == "marker":
            return self._known_or_random_id()
        items = schema.get("items", schema)
        value = self.instance(items, depth=2)
        return value if isinstance(value, str) else json.dumps(value).strip('"')

    # --- body ----------------------------------------------------------------------------

    def _body(self, op: dict[str, Any]) -> bytes:
        r = self.rng
        schema = (
            op.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema", {})
        )
        roll = r.random()
        if roll < 0.06:
            return r.choice(
                [
                    b"",
                    b"{",
                    b"[]",
                    b"null",
                    b"42",
                    b'"x"',
                    b"\xff\xfe",
                    b'{"a":1,}',
                    b"{'a': 1}",
                    b"\x00",
                    b"[" * 5000 + b"]" * 5000,
                    b'{"a":' * 2000 + b"1" + b"}" * 2000,
                ]
            )
        value = self.instance(schema, depth=0)
        if roll < 0.25:
            return json.dumps(value).encode()
        value = self.mutate(value, depth=0)
        text = json.dumps(value, ensure_ascii=r.random() < 0.5)
        if r.random() < 0.1:  # tokens JSON has no spelling for, or duplicate keys
            text = self._raw_tweak(text)
        return text.encode("utf-8", "surrogatepass")

    def _raw_tweak(self, text: str) -> str:
        r = self.rng
        if text.startswith("{") and len(text) > 2 and r.random() < 0.5:
            key = text[1:].split(":", 1)[0]
            return "{" + key + ": 1, " + text[1:]  # a duplicate of the first key
        token = r.choice(RAW_TOKENS)
        for literal in ("null", "true", "false", "0", "1"):
            if literal in text:
                return text.replace(literal, token, 1)
        return text

    def mutate(self, value: Any, depth: int) -> Any:
        r = self.rng
        if isinstance(value, dict):
            out = {
                k: (self.mutate(v, depth + 1) if r.random() < 0.35 else v) for k, v in value.items()
            }
            if r.random() < 0.1:
                out[r.choice(["", "\x00", "id", "x" * 300, "unknown", "日本"])] = r.choice(
                    JSON_VALUES
                )
            if out and r.random() < 0.1:
                out.pop(r.choice(list(out)))
            if r.random() < 0.05 and depth == 0 and len(out) == 1:
                ((k, v),) = out.items()  # a bulk body from a single one
                return {k + "s": [v] * r.choice([0, 1, 2, 30])}
            return out
        if isinstance(value, list):
            if value and r.random() < 0.2:
                return value * r.choice([2, 50])
            return [self.mutate(v, depth + 1) for v in value]
        roll = r.random()
        if roll < 0.3:
            return r.choice(JSON_VALUES)
        if roll < 0.45:
            return self._text()
        if roll < 0.55:
            return self._nested(r.choice([10, 100, 900]))
        if roll < 0.6:
            return "x" * r.choice([255, 256, 4096, 65536])
        return value

    def _nested(self, depth: int) -> Any:
        out: Any = 1
        for _ in range(depth):
            out = [out] if self.rng.random() < 0.5 else {"a": out}
        return out

    def _text(self) -> str:
        r = self.rng
        alphabet = string.printable + "\x7f\u00e9\u202e\ufeff\U0001f600日本"
        text = "".join(r.choice(alphabet) for _ in range(r.choice([1, 5, 40])))
        if r.random() < 0.05:  # NUL is refused everywhere up front: not too often
            cut = r.randrange(len(text) + 1)
            text = text[:cut] + "\x00" + text[cut:]
        return text

    def _known_or_random_id(self) -> str:
        known = [i for ids in self.ids.values() for i in ids]
        if known and self.rng.random() < 0.7:
            return self.rng.choice(known)
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    # --- instances of a JSON Schema ----------------------------------------------------------

    def instance(self, schema: dict[str, Any], depth: int, name: str = "") -> Any:
        """A value of ``schema`` (the subset our document uses), with real ids for UUIDs: of
        the kind the property's ``name`` says (``network_id`` -> a network) when known."""
        r = self.rng
        if "$ref" in schema or depth > 6:
            return {}
        for key in ("oneOf", "anyOf"):
            if key in schema:
                base = {k: v for k, v in schema.items() if k != key}
                return self.instance({**base, **r.choice(schema[key])}, depth, name)
        if "enum" in schema:
            return r.choice(schema["enum"])
        if "const" in schema:
            return schema["const"]
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = r.choice(kind)
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            required = set(schema.get("required", []))
            return {
                k: self.instance(v, depth + 1, k)
                for k, v in props.items()
                if k in required or r.random() < 0.4
            }
        if kind == "array":
            return [
                self.instance(schema.get("items", {}), depth + 1, name)
                for _ in range(r.choice([0, 1, 1, 2]))
            ]
        if kind == "boolean":
            return r.random() < 0.5
        if kind == "integer":
            low, high = schema.get("minimum", 0), schema.get("maximum", 4096)
            return r.randint(low, min(high, low + 5000))
        if kind == "null":
            return None
        return self._string(schema, name)

    def _string(self, schema: dict[str, Any], name: str) -> str:
        r = self.rng
        fmt = schema.get("format")
        if fmt == "uuid":
            kind = ID_KINDS.get(name.removesuffix("s"), "")
            if self.ids.get(kind) and r.random() < 0.8:
                return r.choice(self.ids[kind])
            return self._known_or_random_id()
        if fmt == "ipv4" or "anyOf" in schema:
            return f"192.0.2.{r.randint(1, 254)}"
        if fmt == "ipv6":
            return f"2001:db8::{r.randint(1, 65535):x}"
        if fmt == "date-time":
            return "2024-01-01T00:00:00Z"
        if "pattern" in schema and "0-9a-fA-F" in schema["pattern"]:
            return "fa:16:3e:" + ":".join(f"{r.randint(0, 255):02x}" for _ in range(3))
        if schema.get("pattern") == "/":
            return r.choice(["192.0.2.0/24", "198.51.100.0/26", "2001:db8:1::/64"])
        return f"fz-{r.randint(0, 10**6)}"[: schema.get("maxLength", 255)]
