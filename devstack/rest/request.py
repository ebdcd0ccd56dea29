"""What a REST request asks for: target, schema profile, media type, `Prefer`, range and query parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from devstack.rest.errors import ApiError, query_error, unacceptable_schema
from devstack.rest.query import (
    RESERVED,
    Node,
    SelectItem,
    Star,
    parse_columns,
    parse_filter,
    parse_int,
    parse_order,
    parse_select,
)

OBJECT_MEDIA = "application/vnd.pgrst.object+json"
_MEDIA = {
    "application/json": "json",
    "application/*": "json",
    "*/*": "json",
    OBJECT_MEDIA: "object",
    "application/vnd.pgrst.array+json": "json",
    "text/csv": "csv",
}


@dataclass
class Preferences:
    representation: str = "minimal"  # full | minimal | headers-only
    count: str | None = None  # exact | planned | estimated
    resolution: str | None = None  # merge-duplicates | ignore-duplicates
    missing_default: bool = False
    rollback: bool = False
    applied: list[str] = field(default_factory=list)


def parse_prefer(values: list[str]) -> Preferences:
    """`Prefer` values may be comma-joined, with or without spaces, and repeated; unknown ones are ignored."""
    prefs = Preferences()
    for value in values:
        for raw in value.split(","):
            item = raw.strip()
            key, _, val = item.partition("=")
            if key == "return" and val in ("representation", "minimal", "headers-only"):
                prefs.representation = "full" if val == "representation" else val
            elif key == "count" and val in ("exact", "planned", "estimated"):
                prefs.count = val
            elif key == "resolution" and val in ("merge-duplicates", "ignore-duplicates"):
                prefs.resolution = val
            elif key == "missing" and val in ("default", "null"):
                prefs.missing_default = val == "default"
            elif key == "tx" and val in ("commit", "rollback"):
                prefs.rollback = val == "rollback"
            else:
                continue
            prefs.applied.append(item)
    return prefs


def negotiate(accept: str | None) -> str:
    """The response kind for an `Accept` header: json, stripped (no nulls), object or csv; else 406 PGRST107."""
    if not accept:
        return "json"
    offered = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        stripped = "nulls=stripped" in params
        offered.append((quality, media.lower(), stripped))
    for _, media, stripped in sorted(offered, key=lambda o: -o[0]):
        if media in _MEDIA:
            return "stripped" if stripped and _MEDIA[media] == "json" else _MEDIA[media]
    names = ", ".join(m for _, m, _ in offered)
    raise ApiError(406, "PGRST107", f"None of these media types are available: {names}")


def profile(method: str, headers: dict[str, str], schemas: list[str]) -> str:
    header = "accept-profile" if method in ("GET", "HEAD") else "content-profile"
    schema = headers.get(header)
    if schema is None:
        return schemas[0]
    if schema not in schemas:
        raise unacceptable_schema(schema, schemas)
    return schema


def parse_range(header: str | None) -> tuple[int, int | None] | None:
    """`Range: 0-19` (items) as (offset, limit)."""
    if not header:
        return None
    match = re.fullmatch(r"\s*(?:items=)?(\d+)-(\d*)\s*", header)
    if match is None:
        return None
    first = int(match.group(1))
    if not match.group(2):
        return first, None
    last = int(match.group(2))
    if last < first:
        raise ApiError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
        )
    return first, last - first + 1


@dataclass
class QueryParams:
    select: list[SelectItem] = field(default_factory=lambda: [Star()])
    nodes: dict[tuple[str, ...], Node] = field(default_factory=dict)
    columns: list[str] | None = None
    on_conflict: list[str] | None = None
    args: list[tuple[str, str]] = field(default_factory=list)

    def node(self, path: tuple[str, ...]) -> Node:
        return self.nodes.setdefault(path, Node())


def parse_query(pairs: list[tuple[str, str]], arg_names: frozenset[str] = frozenset()) -> QueryParams:
    """Split the query string into select, per-embed filters/order/range, columns, on_conflict and RPC args."""
    params = QueryParams()
    for key, value in pairs:
        if key in arg_names:
            params.args.append((key, value))
            continue
        last = key.rsplit(".", 1)[-1]
        path = tuple(key.split(".")[:-1])
        if key == "select":
            params.select = parse_select(value)
        elif key == "columns":
            params.columns = parse_columns(value, "columns")
        elif key == "on_conflict":
            params.on_conflict = parse_columns(value, "on_conflict")
        elif last == "order" and key not in RESERVED - {"order"}:
            params.node(path).order.extend(parse_order(value))
        elif last == "limit":
            params.node(path).limit = parse_int("limit", value)
        elif last == "offset":
            params.node(path).offset = parse_int("offset", value)
        else:
            if not key:
                raise query_error("failed to parse filter", "empty parameter name")
            embed_path, condition = parse_filter(key, value)
            params.node(embed_path).conditions.append(condition)
    return params
