"""The /storage/v1 routes, in the order storage-api resolves them (fixed prefixes before `:bucket/*`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devstack.db import Database
from devstack.project import Project
from devstack.settings import DevstackSettings
from devstack.storage import buckets, errors, objects, signing, uploads
from devstack.storage.context import StorageContext
from devstack.storage.files import FileStore

log = logging.getLogger("devstack.storage")

Handler = Callable[[Request, StorageContext], Awaitable[Response]]


def _endpoint(ctx: StorageContext, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            return await handler(request, ctx)
        except errors.StorageError as exc:
            log.log(
                logging.ERROR if exc.status >= 500 else logging.INFO,
                "request failed",
                extra={"method": request.method, "path": request.url.path, "status": exc.status, "code": exc.code},
            )
            return exc.response()
        except (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError) as exc:
            # U+0000 in a name, prefix or path: Postgres text cannot hold it. Bad input, not a server error.
            log.info("request refused", extra={"method": request.method, "path": request.url.path, "error": str(exc)})
            return errors.invalid_request(f"Invalid input: {exc}").response()
        except Exception:
            log.exception("unexpected failure", extra={"method": request.method, "path": request.url.path})
            return errors.internal().response()

    return run


def create_storage_app(db: Database, settings: DevstackSettings, project: Project) -> Starlette:
    ctx = StorageContext(
        db=db,
        files=FileStore(settings.data_dir / "storage"),
        secret=settings.jwt_secret.get_secret_value(),
        global_limit=project.storage_file_size_limit,
    )
    obj = "/object/{bucket}/{path:path}"
    table: list[tuple[str, Handler, list[str]]] = [
        ("/bucket", buckets.list_buckets, ["GET"]),
        ("/bucket", buckets.create_bucket, ["POST"]),
        ("/bucket/{id}", buckets.get_bucket, ["GET"]),
        ("/bucket/{id}", buckets.update_bucket, ["PUT"]),
        ("/bucket/{id}", buckets.delete_bucket, ["DELETE"]),
        ("/bucket/{id}/empty", buckets.empty_bucket, ["POST"]),
        ("/object/list/{bucket}", objects.list_objects, ["POST"]),
        ("/object/move", objects.move, ["POST"]),
        ("/object/copy", objects.copy, ["POST"]),
        ("/object/sign/{bucket}", signing.sign_many, ["POST"]),
        ("/object/sign/{bucket}/{path:path}", signing.sign, ["POST"]),
        ("/object/sign/{bucket}/{path:path}", signing.download_signed, ["GET", "HEAD"]),
        ("/object/upload/sign/{bucket}/{path:path}", uploads.sign_upload, ["POST"]),
        ("/object/upload/sign/{bucket}/{path:path}", uploads.upload_signed, ["PUT"]),
        ("/object/public/{bucket}/{path:path}", objects.download_public, ["GET", "HEAD"]),
        ("/object/authenticated/{bucket}/{path:path}", objects.download, ["GET", "HEAD"]),
        ("/object/info/public/{bucket}/{path:path}", objects.info, ["GET"]),
        ("/object/info/authenticated/{bucket}/{path:path}", objects.info, ["GET"]),
        ("/object/info/{bucket}/{path:path}", objects.info, ["GET"]),
        ("/object/{bucket}", objects.remove_many, ["DELETE"]),
        (obj, uploads.upload_object, ["POST", "PUT"]),
        (obj, objects.download, ["GET", "HEAD"]),
        (obj, objects.remove_one, ["DELETE"]),
    ]
    routes = [Route(path, _endpoint(ctx, handler), methods=methods) for path, handler, methods in table]
    return Starlette(routes=routes)
