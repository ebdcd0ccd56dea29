"""Uploads: `POST`/`PUT /object/:bucket/*` (raw or multipart, `x-upsert`) and signed upload URLs.

As storage-api does, the bucket's limits are read as the service, the body is received and checked
(size, MIME type), and the row is written as the caller, so the INSERT policy (with an upsert, also the
SELECT and UPDATE policies) decides; the bytes move into place inside that transaction.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from devstack import jsonlimits, tokens
from devstack.storage import body, errors
from devstack.storage.caller import Caller, as_caller
from devstack.storage.context import StorageContext, json_response
from devstack.storage.files import Staged, check_key

DEFAULT_MIME = "text/plain;charset=UTF-8"  # what the clients send when the caller names none
MULTIPART_OVERHEAD = 1024 * 1024


@dataclass(frozen=True)
class Bucket:
    id: str
    public: bool
    file_size_limit: int | None
    allowed_mime_types: list[str] | None


@dataclass
class Upload:
    staged: Staged
    mimetype: str
    cache_control: str
    user_metadata: dict[str, Any] | None


async def find_bucket(ctx: StorageContext, bucket_id: str) -> Bucket:
    """The bucket as the service reads it (storage-api's superuser lookup); NoSuchBucket when absent."""
    async with as_caller(await ctx.pool(), None, "storage.bucket.get") as conn:
        row = await conn.fetchrow(
            "select id, public, file_size_limit, allowed_mime_types from storage.buckets where id = $1", bucket_id
        )
    if row is None:
        raise errors.no_such_bucket()
    return Bucket(row["id"], bool(row["public"]), row["file_size_limit"], row["allowed_mime_types"])


def _cache_control(value: str | None) -> str:
    if not value:
        return "no-cache"
    return f"max-age={value}" if value.isdigit() else value


def _user_metadata(raw: str | None, *, encoded: bool) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        text = base64.b64decode(raw).decode() if encoded else raw
        value = jsonlimits.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:  # JsonTooDeep is a ValueError
        raise errors.invalid_request("Invalid metadata: it must be a JSON object") from exc
    if not isinstance(value, dict) or jsonlimits.holds_nul(value):
        raise errors.invalid_request("Invalid metadata: it must be a JSON object")
    return value


async def receive(request: Request, ctx: StorageContext, limit: int) -> Upload:
    """The body as a staged file with its content type, cache control and user metadata."""
    content_type = request.headers.get("content-type", "")
    declared = request.headers.get("content-length", "")
    multipart = content_type.lower().startswith("multipart/form-data")
    if declared.isdigit() and int(declared) > limit + (MULTIPART_OVERHEAD if multipart else 0):
        raise errors.too_large()
    writer = ctx.files.writer(limit)
    if not multipart:
        raw = await body.receive_raw(request, writer)
        return Upload(
            raw.staged,
            content_type or DEFAULT_MIME,
            _cache_control(request.headers.get("cache-control")),
            _user_metadata(request.headers.get("x-metadata"), encoded=True),
        )
    received = await body.receive_multipart(request, writer, content_type)
    fields = received.fields
    return Upload(
        received.staged,
        fields.get("contentType") or received.content_type or DEFAULT_MIME,
        _cache_control(fields.get("cacheControl") or request.headers.get("cache-control")),
        _user_metadata(fields.get("metadata"), encoded=False),
    )


def check_mime(bucket: Bucket, mimetype: str) -> None:
    """storage-api's rule: the full content type must be listed, or match a `type/*` wildcard."""
    allowed = bucket.allowed_mime_types
    if not allowed:
        return
    for entry in allowed:
        if entry == mimetype or (entry.endswith("/*") and mimetype.split("/")[0] == entry[:-2]):
            return
    raise errors.invalid_mime_type(mimetype)


def object_metadata(upload: Upload) -> dict[str, Any]:
    """storage.objects.metadata as storage-api writes it."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(UTC).microsecond // 1000:03d}Z"
    return {
        "eTag": f'"{upload.staged.md5}"',
        "size": upload.staged.size,
        "mimetype": upload.mimetype,
        "cacheControl": upload.cache_control,
        "lastModified": now,
        "contentLength": upload.staged.size,
        "httpStatusCode": 200,
    }


async def store(
    ctx: StorageContext, caller: Caller | None, owner: Caller, bucket: str, name: str, upload: Upload, upsert: bool
) -> str:
    """Write the row (as `caller`; None: the service) and move the bytes into place; the object's id."""
    version = str(uuid.uuid4())
    args = (
        bucket,
        name,
        owner.owner,
        owner.owner_id,
        json.dumps(object_metadata(upload)),
        json.dumps(upload.user_metadata) if upload.user_metadata is not None else None,
        version,
    )
    conflict = (
        """on conflict (bucket_id, name) do update set owner = excluded.owner, owner_id = excluded.owner_id,
             metadata = excluded.metadata, user_metadata = excluded.user_metadata, version = excluded.version,
             updated_at = now(), last_accessed_at = now()"""
        if upsert
        else ""
    )
    async with as_caller(await ctx.pool(), caller, "storage.object.upload") as conn:
        object_id = await conn.fetchval(
            f"""insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version)
                values ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7) {conflict} returning id""",
            *args,
        )
        await asyncio.to_thread(ctx.files.place, upload.staged, bucket, name, version)
    ctx.files.keep_only(bucket, name, version)
    return str(object_id)


async def upload_object(request: Request, ctx: StorageContext) -> Response:
    """POST (create; `x-upsert: true` replaces) and PUT (replace) of an object."""
    caller = ctx.caller(request)
    bucket_id, name = request.path_params["bucket"], check_key(request.path_params["path"])
    upsert = request.method == "PUT" or request.headers.get("x-upsert", "").lower() == "true"
    bucket = await find_bucket(ctx, bucket_id)
    upload = await receive(request, ctx, _limit(ctx, bucket))
    try:
        check_mime(bucket, upload.mimetype)
        object_id = await store(ctx, caller, caller, bucket_id, name, upload, upsert)
    finally:
        upload.staged.discard()
    return json_response({"Id": object_id, "Key": f"{bucket_id}/{name}"})


def _limit(ctx: StorageContext, bucket: Bucket) -> int:
    return min(bucket.file_size_limit or ctx.global_limit, ctx.global_limit)


async def sign_upload(request: Request, ctx: StorageContext) -> Response:
    """A signed upload URL; the INSERT policy is checked now, with a row inserted and rolled back."""
    caller = ctx.caller(request)
    bucket_id, name = request.path_params["bucket"], check_key(request.path_params["path"])
    upsert = request.headers.get("x-upsert", "").lower() == "true"
    await find_bucket(ctx, bucket_id)
    try:
        async with as_caller(await ctx.pool(), caller, "storage.object.upload_sign") as conn:
            await conn.execute(
                "insert into storage.objects (bucket_id, name, owner, owner_id, version) values ($1, $2, $3, $4, $5)"
                + (" on conflict (bucket_id, name) do update set version = excluded.version" if upsert else ""),
                bucket_id,
                name,
                caller.owner,
                caller.owner_id,
                "permission-check",
            )
            raise _RollBack
    except _RollBack:
        pass
    claims = {
        "owner": caller.owner_id,
        "url": f"{bucket_id}/{name}",
        "upsert": upsert,
        "iat": tokens.now(),
        "exp": tokens.now() + ctx.signed_upload_expiry,
    }
    token = tokens.encode(claims, ctx.secret)
    return json_response({"url": f"/object/upload/sign/{bucket_id}/{name}?token={token}", "token": token})


class _RollBack(Exception):
    """Ends a permission-check transaction without committing it."""


async def upload_signed(request: Request, ctx: StorageContext) -> Response:
    """PUT to a signed upload URL: no Authorization; the token names the path, the owner and upsert."""
    bucket_id, name = request.path_params["bucket"], check_key(request.path_params["path"])
    claims = verify_url_token(request.query_params.get("token", ""), ctx.secret, f"{bucket_id}/{name}")
    bucket = await find_bucket(ctx, bucket_id)
    upload = await receive(request, ctx, _limit(ctx, bucket))
    owner = Caller("authenticated", {"sub": claims["owner"]} if claims.get("owner") else {})
    try:
        check_mime(bucket, upload.mimetype)
        object_id = await store(ctx, None, owner, bucket_id, name, upload, bool(claims.get("upsert")))
    finally:
        upload.staged.discard()
    return json_response({"Id": object_id, "Key": f"{bucket_id}/{name}"})


def verify_url_token(token: str, secret: str, url: str) -> dict[str, Any]:
    """The claims of a signed-URL token for `url`: an expired or foreign token is refused."""
    if not token:
        raise errors.invalid_request("querystring must have required property 'token'")
    try:
        claims: dict[str, Any] = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_aud": False})
    except jwt.ExpiredSignatureError as exc:
        raise errors.invalid_jwt("jwt expired") from exc
    except jwt.PyJWTError as exc:
        raise errors.invalid_jwt("invalid signature") from exc
    if claims.get("url") != url:
        raise errors.invalid_signature()
    return claims
