"""Signed download URLs: `POST /object/sign/:bucket[/*]` and `GET /object/sign/:bucket/*?token=`.

As on storage-api the token is a stateless JWT (HS256, the JWT secret) naming `bucket/path`: the SELECT
policy is checked when it is signed, and anyone holding the URL may download until it expires.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from devstack import tokens
from devstack.storage import errors
from devstack.storage.caller import Caller, as_caller
from devstack.storage.context import StorageContext, json_response, read_json
from devstack.storage.files import check_key
from devstack.storage.objects import find_object, serve
from devstack.storage.uploads import verify_url_token

NOT_FOUND = "Either the object does not exist or you do not have access to it"


def _expires_in(body: dict[str, Any]) -> int:
    """`expiresIn` in seconds; the clients send a number or (supabase-py) a numeric string."""
    raw = body.get("expiresIn")
    try:
        value = int(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else 0
    except ValueError:
        value = 0
    if value < 1:
        raise errors.invalid_request("body/expiresIn must be >= 1")
    return value


def _signed_url(ctx: StorageContext, bucket: str, name: str, expires_in: int) -> str:
    now = tokens.now()
    token = tokens.encode({"url": f"{bucket}/{name}", "iat": now, "exp": now + expires_in}, ctx.secret)
    return f"/object/sign/{bucket}/{quote(name)}?token={token}"


async def sign(request: Request, ctx: StorageContext) -> Response:
    caller = ctx.caller(request)
    bucket, name = request.path_params["bucket"], check_key(request.path_params["path"])
    expires_in = _expires_in(await read_json(request))
    await find_object(ctx, caller, bucket, name)
    return json_response({"signedURL": _signed_url(ctx, bucket, name, expires_in)})


async def sign_many(request: Request, ctx: StorageContext) -> Response:
    caller: Caller = ctx.caller(request)
    bucket = request.path_params["bucket"]
    body = await read_json(request)
    expires_in = _expires_in(body)
    paths = body.get("paths")
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise errors.invalid_request("body/paths must NOT have fewer than 1 items")
    async with as_caller(await ctx.pool(), caller, "storage.object.sign_many") as conn:
        rows = await conn.fetch(
            "select name from storage.objects where bucket_id = $1 and name = any($2::text[])", bucket, paths
        )
    visible = {row["name"] for row in rows}
    return json_response(
        [
            {
                "error": None if path in visible else NOT_FOUND,
                "path": path,
                "signedURL": _signed_url(ctx, bucket, path, expires_in) if path in visible else None,
            }
            for path in paths
        ]
    )


async def download_signed(request: Request, ctx: StorageContext) -> Response:
    bucket, name = request.path_params["bucket"], check_key(request.path_params["path"])
    verify_url_token(request.query_params.get("token", ""), ctx.secret, f"{bucket}/{name}")
    return serve(request, ctx, await find_object(ctx, None, bucket, name))
