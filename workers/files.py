"""A child's files in Storage, as workers reach them: downloads and uploads with the service role.

Through the worker's own supabase client (storage-js's protocol, the same pool as its REST calls), so a
worker needs nothing but SUPABASE_URL and the service-role key. Storage's errors become ours at this edge:
a file that is gone is permanent (the row's file was deleted), the rest is worth a retry.
"""

from __future__ import annotations

import httpx
from storage3.exceptions import StorageApiError, StorageException
from supabase import AsyncClient

from shared.errors import PermanentError, TransientError


def _translated(exc: Exception, what: str) -> Exception:
    if isinstance(exc, StorageApiError):
        status = str(exc.status)
        if status in ("404", "400") and exc.code in ("not_found", "NoSuchKey", "InvalidKey"):
            return PermanentError(f"{what}: the file is gone ({exc.message})")
        if status.startswith("4") and status not in ("408", "429"):
            return PermanentError(f"{what}: Storage refused ({status} {exc.code}: {exc.message})")
        return TransientError(f"{what}: Storage {status} {exc.code}: {exc.message}")
    if isinstance(exc, StorageException | httpx.TransportError):
        return TransientError(f"{what}: {exc!r}")
    return exc


async def download(client: AsyncClient, bucket: str, path: str) -> bytes:
    """An object's bytes."""
    try:
        return await client.storage.from_(bucket).download(path)
    except Exception as exc:
        raise _translated(exc, f"download {bucket}/{path}") from exc


async def upload(client: AsyncClient, bucket: str, path: str, data: bytes, content_type: str) -> str:
    """Write an object (replacing one at the same path: a retried job writes the same file again)."""
    try:
        await client.storage.from_(bucket).upload(path, data, {"content-type": content_type, "upsert": "true"})
    except Exception as exc:
        raise _translated(exc, f"upload {bucket}/{path}") from exc
    return path
