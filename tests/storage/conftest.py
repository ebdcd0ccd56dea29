"""Storage tests: a bucket with owner-folder policies, made as a migration would (as `postgres`), and users.

Each test module gets its own bucket, so the tests share the session's stack without colliding.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from supabase import Client, ClientOptions, create_client

from tests.conftest import Stack

PASSWORD = "correct-horse-1"

# What a project's migration holds: a private bucket with limits and policies that let each user use
# their own folder (`<user id>/…`), compared as text as the Storage docs advise.
BUCKET_MIGRATION = """
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('{bucket}', '{bucket}', false, {limit}, {mimes});
create policy "{bucket}: owners read" on storage.objects for select to authenticated
  using (bucket_id = '{bucket}' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "{bucket}: owners upload" on storage.objects for insert to authenticated
  with check (bucket_id = '{bucket}' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "{bucket}: owners update" on storage.objects for update to authenticated
  using (bucket_id = '{bucket}' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "{bucket}: owners delete" on storage.objects for delete to authenticated
  using (bucket_id = '{bucket}' and (storage.foldername(name))[1] = (select auth.uid())::text);
"""


@dataclass
class StorageUser:
    id: str
    token: str
    client: Client


@dataclass
class StorageStack:
    stack: Stack
    http: list[httpx.Client]

    @property
    def storage_url(self) -> str:
        return f"{self.stack.api_url}/storage/v1"

    def client(self, key: str) -> Client:
        pool = httpx.Client(timeout=30)
        self.http.append(pool)
        return create_client(self.stack.api_url, key, ClientOptions(httpx_client=pool, auto_refresh_token=False))

    def service(self) -> Client:
        return self.client(self.stack.service_role_key)

    def user(self) -> StorageUser:
        """A user signed up through /auth/v1, signed in on its own supabase-py client (ES256 token)."""
        client = self.client(self.stack.anon_key)
        response = client.auth.sign_up({"email": f"st-{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD})
        assert response.user is not None and response.session is not None
        return StorageUser(response.user.id, response.session.access_token, client)

    def bucket(self, *, limit: int | None = None, mimes: list[str] | None = None) -> str:
        name = f"docs-{uuid.uuid4().hex[:8]}"
        mime_sql = "null" if mimes is None else "array[" + ",".join(f"'{m}'" for m in mimes) + "]"
        sql = BUCKET_MIGRATION.format(bucket=name, limit="null" if limit is None else limit, mimes=mime_sql)
        asyncio.run(_execute(self.stack.postgres_dsn, sql))
        return name


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def storage(stack: Stack) -> Iterator[StorageStack]:
    st = StorageStack(stack, [])
    yield st
    for pool in st.http:
        pool.close()
