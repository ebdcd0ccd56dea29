"""`/bucket`: list, get, create, update, empty and delete buckets, as the caller (RLS on storage.buckets).

Without policies on storage.buckets only the service role (BYPASSRLS) sees or changes buckets, as on
Supabase; a user's `listBuckets()` answers `[]`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from devstack.project import parse_size
from devstack.storage import errors
from devstack.storage.caller import as_caller
from devstack.storage.context import StorageContext, json_response, read_json
from devstack.storage.files import check_bucket

_COLUMNS = "id, name, owner, owner_id, public, file_size_limit, allowed_mime_types, created_at, updated_at"


def iso(value: datetime | None) -> str | None:
    """A timestamp as JavaScript's toISOString writes it (storage-api's JSON)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def bucket_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "owner": row["owner_id"] or (str(row["owner"]) if row["owner"] else ""),
        "public": bool(row["public"]),
        "type": "STANDARD",
        "file_size_limit": row["file_size_limit"],
        "allowed_mime_types": row["allowed_mime_types"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _size_limit(value: Any, global_limit: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        size = parse_size(value) if isinstance(value, str) else int(value)
    except (TypeError, ValueError) as exc:
        raise errors.invalid_request("Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B") from exc
    if size > global_limit:
        raise errors.StorageError(413, "EntityTooLarge", "The bucket exceeded the maximum allowed size")
    return size if size > 0 else None


def _mime_types(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise errors.invalid_request("body/allowed_mime_types must be array")
    return value or None


async def list_buckets(request: Request, ctx: StorageContext) -> Response:
    caller = ctx.caller(request)
    async with as_caller(await ctx.pool(), caller, "storage.bucket.list") as conn:
        rows = await conn.fetch(f"select {_COLUMNS} from storage.buckets order by name")
    return json_response([bucket_json(row) for row in rows])


async def get_bucket(request: Request, ctx: StorageContext) -> Response:
    caller = ctx.caller(request)
    async with as_caller(await ctx.pool(), caller, "storage.bucket.get") as conn:
        row = await conn.fetchrow(f"select {_COLUMNS} from storage.buckets where id = $1", request.path_params["id"])
    if row is None:
        raise errors.no_such_bucket()
    return json_response(bucket_json(row))


async def create_bucket(request: Request, ctx: StorageContext) -> Response:
    caller = ctx.caller(request)
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str):
        raise errors.invalid_request("body must have required property 'name'")
    bucket_id = body.get("id") or name
    check_bucket(bucket_id)
    check_bucket(name)
    limit = _size_limit(body.get("file_size_limit"), ctx.global_limit)
    mimes = _mime_types(body.get("allowed_mime_types"))
    try:
        async with as_caller(await ctx.pool(), caller, "storage.bucket.create") as conn:
            await conn.execute(
                """insert into storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types)
                   values ($1, $2, $3, $4, $5, $6, $7)""",
                bucket_id,
                name,
                caller.owner,
                caller.owner_id,
                bool(body.get("public", False)),
                limit,
                mimes,
            )
    except errors.StorageError as exc:
        if exc.code == "KeyAlreadyExists":
            raise errors.bucket_exists() from exc
        raise
    return json_response({"name": bucket_id})


async def update_bucket(request: Request, ctx: StorageContext) -> Response:
    caller = ctx.caller(request)
    body = await read_json(request)
    sets, args = [], [request.path_params["id"]]
    if "public" in body:
        args.append(bool(body["public"]))
        sets.append(f"public = ${len(args)}")
    if "file_size_limit" in body:
        args.append(_size_limit(body["file_size_limit"], ctx.global_limit))
        sets.append(f"file_size_limit = ${len(args)}")
    if "allowed_mime_types" in body:
        args.append(_mime_types(body["allowed_mime_types"]))
        sets.append(f"allowed_mime_types = ${len(args)}")
    async with as_caller(await ctx.pool(), caller, "storage.bucket.update") as conn:
        assignments = ", ".join([*sets, "updated_at = now()"])
        done = await conn.fetchval(f"update storage.buckets set {assignments} where id = $1 returning id", *args)
    if done is None:
        raise errors.no_such_bucket()
    return json_response({"message": "Successfully updated"})


async def empty_bucket(request: Request, ctx: StorageContext) -> Response:
    """Delete every object the caller may delete; unlike storage-api's queued job, done before answering."""
    caller = ctx.caller(request)
    bucket = request.path_params["id"]
    async with as_caller(await ctx.pool(), caller, "storage.bucket.empty") as conn:
        if await conn.fetchval("select id from storage.buckets where id = $1", bucket) is None:
            raise errors.no_such_bucket()
        deleted = await conn.fetch("delete from storage.objects where bucket_id = $1 returning name", bucket)
    for row in deleted:
        ctx.files.keep_only(bucket, row["name"], None)
    return json_response({"message": "Successfully emptied"})


async def delete_bucket(request: Request, ctx: StorageContext) -> Response:
    caller = ctx.caller(request)
    bucket = request.path_params["id"]
    async with as_caller(await ctx.pool(), None, "storage.bucket.delete") as conn:
        has_objects = await conn.fetchval("select exists(select 1 from storage.objects where bucket_id = $1)", bucket)
    if has_objects:
        raise errors.bucket_not_empty()
    async with as_caller(await ctx.pool(), caller, "storage.bucket.delete") as conn:
        deleted = await conn.fetchval("delete from storage.buckets where id = $1 returning id", bucket)
    if deleted is None:
        raise errors.no_such_bucket()
    ctx.files.remove_bucket(bucket)
    return json_response({"message": "Successfully deleted"})
