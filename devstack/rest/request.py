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
    strict: bool = False  # handling=strict: unknown preferences are errors, max-affected is enforced
    max_affected: int | None = None
    applied: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


_PREFERENCES = {
    "return": ("representation", "minimal", "headers-only"),
    "count": ("exact", "planned", "estimated"),
    "resolution": ("merge-duplicates", "ignore-duplicates"),
    "missing": ("default", "null"),
    "tx": ("commit", "rollback"),
    "handling": ("strict", "lenient"),
}


def parse_prefer(values: list[str]) -> Preferences:
    """`Prefer` values may be comma-joined, with or without spaces, and repeated; unknown ones are ignored
    (PGRST122 under `handling=strict`), as is `max-affected` unless handling is strict."""
    prefs = Preferences()
    max_affected: str | None = None
    for value in values:
        for raw in value.split(","):
            item = raw.strip()
            key, _, val = item.partition("=")
            if key == "max-affected" and re.fullmatch(r"\d{1,12}", val):
                max_affected = item
                prefs.max_affected = int(val)
                continue
            if val not in _PREFERENCES.get(key, ()):
                if item:
                    prefs.invalid.append(item)
                continue
            if key == "return":
                prefs.representation = "full" if val == "representation" else val
            elif key == "count":
                prefs.count = val
            elif key == "resolution":
                prefs.resolution = val
            elif key == "missing":
                prefs.missing_default = val == "default"
            elif key == "tx":
                prefs.rollback = val == "rollback"
            else:
                prefs.strict = val == "strict"
            prefs.applied.append(item)
    if prefs.strict and max_affected is not None:
        prefs.applied.append(max_affected)
    elif not prefs.strict:
        prefs.max_affected = None
    if prefs.strict and prefs.invalid:
        raise ApiError(
            400,
            "PGRST122",
            "Invalid preferences given with handling=strict",
            f"Invalid preferences: {', '.join(prefs.invalid)}",
        )
    return prefs


@dataclass(frozen=True)
class PlanRequest:
    """`Accept: application/vnd.pgrst.plan+json; for="…"; options=analyze|verbose|…` (EXPLAIN)."""

    format: str  # json | text
    options: tuple[str, ...]


@dataclass(frozen=True)
class Media:
    """What the response body is: json (an array), object (one row), csv; stripped of nulls; or its plan."""

    kind: str = "json"
    strip: bool = False
    plan: PlanRequest | None = None
    offered: str = ""  # the Accept header, for PGRST107


PLAN_OPTIONS = ("analyze", "verbose", "settings", "buffers", "wal")


def negotiate(accept: str | None, plan_enabled: bool = False) -> Media:
    """The response kind for an `Accept` header, by quality; else 406 PGRST107 (plans only when enabled)."""
    if not accept:
        return Media()
    offered = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        named: dict[str, str] = {}
        for param in params:
            key, _, val = param.partition("=")
            named[key.strip().lower()] = val.strip().strip('"')
        try:
            quality = float(named.get("q", "1"))
        except ValueError:
            quality = 0.0
        offered.append((quality, media.lower(), named))
    for _, media, named in sorted(offered, key=lambda o: -o[0]):
        chosen = _media(media, named, plan_enabled)
        if chosen is not None:
            return chosen
    names = ", ".join(part.strip() for part in accept.split(","))
    raise ApiError(406, "PGRST107", f"None of these media types are available: {names}")


def _media(media: str, params: dict[str, str], plan_enabled: bool) -> Media | None:
    strip = params.get("nulls") == "stripped"
    if media in _MEDIA:
        kind = _MEDIA[media]
        return Media(kind, strip and kind in ("json", "object"))
    if media.startswith(PLAN_MEDIA) and plan_enabled:
        fmt = media.removeprefix(PLAN_MEDIA).removeprefix("+") or "text"
        target = _MEDIA.get(params.get("for", "application/json").lower())
        options = tuple(o for o in params.get("options", "").split("|") if o)
        if fmt not in ("json", "text") or target is None or not set(options) <= set(PLAN_OPTIONS):
            return None
        return Media(target, False, PlanRequest(fmt, options))
    return None


PLAN_MEDIA = "application/vnd.pgrst.plan"


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
