"""The HTTP answer to a REST request: status, `Content-Range`, `Preference-Applied`, body and media type."""

from __future__ import annotations

import csv
import io
import json

import asyncpg
from starlette.responses import Response

from devstack.rest.errors import ApiError
from devstack.rest.plan import Plan, Target

JSON_TYPE = "application/json; charset=utf-8"
OBJECT_TYPE = "application/vnd.pgrst.object+json; charset=utf-8"
_FOR = {"json": "application/json", "object": "application/vnd.pgrst.object+json", "csv": "text/csv"}


def respond(plan: Plan, target: Target, row: asyncpg.Record, total: int | None) -> Response:
    page_total = int(row["page_total"])
    headers = {}
    if target.prefs.applied:
        headers["Preference-Applied"] = ", ".join(target.prefs.applied)
    body: str | None = row["body"]
    if plan.action in ("read", "rpc"):
        status = 200
        if plan.action == "read" or plan.count is not None:
            status = _range_status(plan.offset, page_total, total)
            headers["Content-Range"] = _content_range(plan.offset, page_total, total)
        if plan.void:
            return Response(None, 204, headers)
    else:
        headers["Content-Range"] = f"*/{total if total is not None else '*'}"
        status = 201 if plan.action == "create" else 200
        if plan.action == "create" and target.prefs.resolution and row.get("inserted") is False:
            status = 200 if page_total else 201
        if target.prefs.representation != "full":
            return Response(None, 201 if plan.action == "create" else 204, headers)
    if target.method == "HEAD":
        return Response(None, status, headers, media_type=JSON_TYPE)
    if target.media.kind == "csv":
        return Response(_csv(body or "[]"), status, headers, media_type="text/csv; charset=utf-8")
    media = OBJECT_TYPE if target.media.kind == "object" else JSON_TYPE
    return Response(body, status, headers, media_type=media)


def explained(target: Target, plan_text: str) -> Response:
    """`Accept: application/vnd.pgrst.plan…`: the statement's EXPLAIN output, 200."""
    assert target.media.plan is not None
    fmt = target.media.plan.format
    media = f'application/vnd.pgrst.plan+{fmt}; for="{_FOR[target.media.kind]}"; charset=utf-8'
    return Response(plan_text, 200, media_type=media)


def _range_status(offset: int, page_total: int, total: int | None) -> int:
    if total is None:
        return 200
    if offset > total:
        raise ApiError(
            416,
            "PGRST103",
            "Requested range not satisfiable",
            f"An offset of {offset} was requested, but there are only {total} rows.",
        )
    return 206 if page_total < total else 200


def _content_range(offset: int, page_total: int, total: int | None) -> str:
    suffix = "*" if total is None else str(total)
    if page_total == 0:
        return f"*/{suffix}"
    return f"{offset}-{offset + page_total - 1}/{suffix}"


def _csv(body: str) -> str:
    rows = json.loads(body)
    rows = rows if isinstance(rows, list) else [rows]
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(rows[0]))
    for item in rows:
        writer.writerow(
            ["" if v is None else (json.dumps(v) if isinstance(v, dict | list) else v) for v in item.values()]
        )
    return out.getvalue()


def error_response(exc: ApiError) -> Response:
    headers = {"Proxy-Status": f"PostgREST; error={exc.code}", **exc.headers}
    return Response(exc.body(), exc.status, headers, media_type=JSON_TYPE)
