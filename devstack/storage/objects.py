"""Reading and managing objects: download (authenticated, public), info, HEAD, remove, list, move, copy.

Each runs as the caller, so a row the SELECT policy hides reads as not found, as on storage-api.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import quote

import asyncpg
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from devstack.storage import errors
from devstack.storage.buckets import iso
from devstack.storage.caller import Caller, as_caller
from devstack.storage.context import StorageContext, json_response, read_json
from devstack.storage.files import check_key
from devstack.storage.uploads import find_bucket

_ROW = (
    "id, bucket_id, name, owner, owner_id, version, metadata, user_metadata, created_at, updated_at, last_accessed_at"
)
_SORT_COLUMNS = ("name", "updated_at", "created_at", "last_accessed_at")


def object_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "bucket_id": row["bucket_id"],
        "name": row["name"],
        "owner": str(row["owner"]) if row["owner"] else None,
        "owner_id": row["owner_id"],
        "id": str(row["id"]),
        "version": row["version"],
        "updated_at": iso(row["updated_at"]),
        "created_at": iso(row["created_at"]),
        "last_accessed_at": iso(row["last_accessed_at"]),
        "metadata": json.loads(row["metadata"]) if row["metadata"] else None,
        "user_metadata": json.loads(row["user_metadata"]) if row["user_metadata"] else None,
    }


async def find_object(ctx: StorageContext, caller: Caller | None, bucket: str, name: str) -> asyncpg.Record:
    async with as_caller(await ctx.pool(), caller, "storage.object.get") as conn:
        row = await conn.fetchrow(
            f"select {_ROW} from storage.objects where bucket_id = $1 and name = $2", bucket, name
        )
    if row is None:
        raise errors.no_such_key()
    return row


def serve(request: Request, ctx: StorageContext, row: asyncpg.Record) -> Response:
    """The object's bytes (Range and HEAD handled by FileResponse) with storage-api's headers."""
    path = ctx.files.path(row["bucket_id"], row["name"], row["version"] or "")
    if not path.is_file():
        raise errors.no_such_key()
    meta = json.loads(row["metadata"]) if row["metadata"] else {}
    headers = {
        "Cache-Control": meta.get("cacheControl", "no-cache"),
        "ETag": meta.get("eTag", ""),
        "Last-Modified": row["updated_at"].strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    download = request.query_params.get("download")
    if download is not None:
        filename = download or row["name"].rsplit("/", 1)[-1]
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)};"
    response = FileResponse(path, headers=headers, media_type=meta.get("mimetype", "application/octet-stream"))
    response.chunk_size = 1024 * 1024  # Starlette's 64 KiB chunks cost a thread hop each
    return response


async def download(request: Request, ctx: StorageContext) -> Response:
    caller = ctx.caller(request)
    name = check_key(request.path_params["path"])
    return serve(request, ctx, await find_object(ctx, caller, request.path_params["bucket"], name))


async def download_public(request: Request, ctx: StorageContext) -> Response:
    """A public bucket's object, for anyone; a private bucket reads as not found."""
    bucket = await find_bucket(ctx, request.path_params["bucket"])
    if not bucket.public:
        raise errors.no_such_bucket()
    return serve(request, ctx, await find_object(ctx, None, bucket.id, check_key(request.path_params["path"])))


async def info(request: Request, ctx: StorageContext) -> Response:
    caller = ctx.caller(request)
    row = await find_object(ctx, caller, request.path_params["bucket"], check_key(request.path_params["path"]))
    meta = json.loads(row["metadata"]) if row["metadata"] else {}
    return json_response(
        {
            "id": str(row["id"]),
            "name": row["name"],
            "version": row["version"],
            "bucket_id": row["bucket_id"],
            "size": meta.get("size"),
            "content_type": meta.get("mimetype"),
            "cache_control": meta.get("cacheControl"),
            "etag": meta.get("eTag"),
            "metadata": json.loads(row["user_metadata"]) if row["user_metadata"] else {},
            "last_modified": iso(row["updated_at"]),
            "created_at": iso(row["created_at"]),
        }
    )


async def remove_one(request: Request, ctx: StorageContext) -> Response:
    caller = ctx.caller(request)
    bucket, name = request.path_params["bucket"], check_key(request.path_params["path"])
    async with as_caller(await ctx.pool(), caller, "storage.object.delete") as conn:
        deleted = await conn.fetchval(
            "delete from storage.objects where bucket_id = $1 and name = $2 returning id", bucket, name
        )
    if deleted is None:
        await find_object(ctx, None, bucket, name)  # absent: 404; present but the policy refused: 403
        raise errors.access_denied()
    ctx.files.keep_only(bucket, name, None)
    return json_response({"message": "Successfully deleted"})


async def remove_many(request: Request, ctx: StorageContext) -> Response:
    """DELETE /object/:bucket {prefixes}: the objects the caller may delete go; others are skipped silently."""
    caller = ctx.caller(request)
    bucket = request.path_params["bucket"]
    prefixes = (await read_json(request)).get("prefixes")
    if not isinstance(prefixes, list) or not prefixes or not all(isinstance(p, str) for p in prefixes):
        raise errors.invalid_request("body/prefixes must NOT have fewer than 1 items")
    async with as_caller(await ctx.pool(), caller, "storage.object.delete_many") as conn:
        rows = await conn.fetch(
            f"delete from storage.objects where bucket_id = $1 and name = any($2::text[]) returning {_ROW}",
            bucket,
            prefixes,
        )
    for row in rows:
        ctx.files.keep_only(bucket, row["name"], None)
    return json_response([object_json(row) for row in rows])


def _list_options(body: dict[str, Any]) -> tuple[str, int, int, str, str, str]:
    prefix = body.get("prefix")
    if not isinstance(prefix, str):
        raise errors.invalid_request("body must have required property 'prefix'")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    sort = body.get("sortBy") or {}
    column = sort.get("column", "name") if isinstance(sort, dict) else "name"
    order = str(sort.get("order", "asc")).lower() if isinstance(sort, dict) else "asc"
    if column not in _SORT_COLUMNS or order not in ("asc", "desc"):
        raise errors.invalid_request("Invalid sortBy: column or order")
    try:
        limit, offset = int(body.get("limit", 100)), int(body.get("offset", 0))
    except (TypeError, ValueError) as exc:
        raise errors.invalid_request("body/limit and body/offset must be integers") from exc
    return prefix, limit, offset, str(body.get("search") or ""), column, order


async def list_objects(request: Request, ctx: StorageContext) -> Response:
    """storage.search: the folders and files one level under `prefix`, as the caller sees them."""
    caller = ctx.caller(request)
    prefix, limit, offset, search, column, order = _list_options(await read_json(request))
    level = prefix.count("/") + 1
    sql = f"""
        select * from (
          select path_tokens[$3] as name, null::uuid as id, null::timestamptz as updated_at,
                 null::timestamptz as created_at, null::timestamptz as last_accessed_at, null::jsonb as metadata
          from storage.objects
          where bucket_id = $1 and name ilike $2 and array_length(path_tokens, 1) > $3
          group by path_tokens[$3]
          union all
          select path_tokens[$3], id, updated_at, created_at, last_accessed_at, metadata
          from storage.objects
          where bucket_id = $1 and name ilike $2 and array_length(path_tokens, 1) = $3
        ) found
        order by {column} {order} nulls first, name {order} limit $4 offset $5
    """
    async with as_caller(await ctx.pool(), caller, "storage.object.list") as conn:
        rows = await conn.fetch(sql, request.path_params["bucket"], prefix + search + "%", level, limit, offset)
    items = [
        {
            "name": row["name"],
            "id": str(row["id"]) if row["id"] else None,
            "updated_at": iso(row["updated_at"]),
            "created_at": iso(row["created_at"]),
            "last_accessed_at": iso(row["last_accessed_at"]),
            "metadata": json.loads(row["metadata"]) if row["metadata"] else None,
        }
        for row in rows
    ]
    return json_response(items)


def _move_params(body: dict[str, Any]) -> tuple[str, str, str, str]:
    bucket, source, target = body.get("bucketId"), body.get("sourceKey"), body.get("destinationKey")
    if not all(isinstance(v, str) and v for v in (bucket, source, target)):
        raise errors.invalid_request("body must have required properties 'bucketId', 'sourceKey', 'destinationKey'")
    target_bucket = body.get("destinationBucket") or bucket
    assert isinstance(bucket, str) and isinstance(source, str) and isinstance(target, str)
    return bucket, check_key(source), str(target_bucket), check_key(target)


async def move(request: Request, ctx: StorageContext) -> Response:
    """Rename as the caller: the UPDATE policy must allow both the old row and the new one."""
    caller = ctx.caller(request)
    bucket, source, target_bucket, target = _move_params(await read_json(request))
    async with as_caller(await ctx.pool(), caller, "storage.object.move") as conn:
        version = await conn.fetchval(
            """update storage.objects set bucket_id = $3, name = $4, updated_at = now()
               where bucket_id = $1 and name = $2 returning version""",
            bucket,
            source,
            target_bucket,
            target,
        )
        if version is None:
            raise errors.no_such_key()
        await asyncio.to_thread(ctx.files.move, bucket, source, version, target_bucket, target)
    return json_response({"message": "Successfully moved"})


async def copy(request: Request, ctx: StorageContext) -> Response:
    """Copy as the caller: SELECT on the source, INSERT on the copy (owned by the caller)."""
    caller = ctx.caller(request)
    bucket, source, target_bucket, target = _move_params(await read_json(request))
    row = await find_object(ctx, caller, bucket, source)
    version = str(uuid.uuid4())
    async with as_caller(await ctx.pool(), caller, "storage.object.copy") as conn:
        object_id = await conn.fetchval(
            """insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version)
               values ($1, $2, $3, $4, $5, $6, $7) returning id""",
            target_bucket,
            target,
            caller.owner,
            caller.owner_id,
            row["metadata"],
            row["user_metadata"],
            version,
        )
        source_path = ctx.files.path(bucket, source, row["version"] or "")
        await asyncio.to_thread(ctx.files.copy, source_path, target_bucket, target, version)
    return json_response({"Id": str(object_id), "Key": f"{target_bucket}/{target}"})
