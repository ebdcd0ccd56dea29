"""A gateway over a database holding the REST test schema (tests/rest/schema.sql), plus signed-in users."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
from supabase import Client, ClientOptions, create_client

from devstack import tokens
from devstack.db import role_dsn
from tests.conftest import PASSWORD, SETTINGS, _admin, _with_database, gateway_process
from tests.waiting import poll

HERE = Path(__file__).parent
EXPOSED = "public,graphql_public,extra"


@dataclass(frozen=True)
class User:
    id: str
    email: str
    token: str


@dataclass(frozen=True)
class RestStack:
    api_url: str
    dsn: str  # superuser DSN of the REST test database
    log: Path
    http_clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None, schema: str = "public") -> Client:
        """supabase-py as a frontend uses it: the anon key, and a user's JWT once signed in."""
        return self._client(SETTINGS.anon_key, schema, token)

    def service(self) -> Client:
        return self._client(SETTINGS.service_role_key, "public", None)

    def _client(self, key: str, schema: str, token: str | None) -> Client:
        http = httpx.Client(timeout=30)
        self.http_clients.append(http)
        client = create_client(self.api_url, key, ClientOptions(schema=schema, httpx_client=http))
        if token is not None:
            client.postgrest.auth(token)
        return client

    def sql(self, query: str, *args: object) -> list[asyncpg.Record]:
        return asyncio.run(_fetch(self.dsn, query, *args))

    def sql_as_postgres(self, query: str, *args: object) -> list[asyncpg.Record]:
        """As the non-superuser `postgres`, whose rights are what Supabase's SQL editor has."""
        return asyncio.run(_fetch(role_dsn(self.dsn, "postgres", PASSWORD), query, *args))

    def user(self) -> User:
        """A confirmed auth.users row and an access token for it (no dependency on /auth/v1)."""
        user_id, email = str(uuid.uuid4()), f"{uuid.uuid4().hex[:10]}@example.com"
        self.sql(
            "insert into auth.users (id, aud, role, email, email_confirmed_at, created_at, updated_at)"
            " values ($1::uuid, 'authenticated', 'authenticated', $2, now(), now(), now())",
            user_id,
            email,
        )
        claims = {
            "sub": user_id,
            "role": "authenticated",
            "aud": "authenticated",
            "email": email,
            "exp": tokens.now() + 3600,
        }
        return User(user_id, email, tokens.encode(claims, SETTINGS.jwt_secret.get_secret_value()))


# supabase-py 2.34 hands postgrest its own deprecated `timeout`/`verify` arguments on every request builder.
CLIENT_DEPRECATIONS = r"ignore:The '(timeout|verify)' parameter is deprecated:DeprecationWarning"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings(CLIENT_DEPRECATIONS))


async def _fetch(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def _apply(dsn: str, *files: Path) -> None:
    conn = await asyncpg.connect(role_dsn(dsn, "postgres", PASSWORD))
    try:
        for file in files:
            await conn.execute(file.read_text())
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def rest(pg_server: str, platform_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestStack]:
    name = f"coachbase_rest_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(pg_server, f'create database "{name}" template "{platform_template}" owner postgres'))
    dsn = _with_database(pg_server, name)
    try:
        asyncio.run(_apply(dsn, HERE / "schema.sql", HERE / "seed.sql"))
        log = tmp_path_factory.mktemp("rest-gateway") / "gateway.log"
        # A 1 MiB budget for embedded JSON (64 MiB by default) keeps the bounded-embed test quick.
        env = {"PGRST_DB_SCHEMAS": EXPOSED, "DEVSTACK_REST_MAX_JSON_BYTES": str(1 << 20)}
        with gateway_process(dsn, log, env) as url:
            stack = RestStack(url, dsn, log)
            yield stack
            for http in stack.http_clients:
                http.close()
    finally:
        asyncio.run(_admin(pg_server, f'drop database if exists "{name}" with (force)'))


@pytest.fixture(scope="session")
def anon(rest: RestStack) -> Client:
    return rest.client()


@pytest.fixture(scope="session")
def alice(rest: RestStack) -> User:
    return rest.user()


@pytest.fixture(scope="session")
def bob(rest: RestStack) -> User:
    return rest.user()


@pytest.fixture(scope="session")
def signed_in(rest: RestStack, alice: User) -> Client:
    return rest.client(alice.token)


FEATURES = ("db_aggregates_enabled", "db_plan_enabled")


def _aggregates_answer(rest: RestStack) -> int:
    url = f"{rest.api_url}/rest/v1/todos?select=id.count()"
    return httpx.get(url, headers={"apikey": SETTINGS.anon_key}).status_code


@pytest.fixture
def features(rest: RestStack) -> Iterator[None]:
    """Aggregates and plans enabled the Supabase way (as `postgres`), and disabled again afterwards."""
    database = rest.sql("select current_database()")[0][0]
    for name in FEATURES:
        rest.sql_as_postgres(f"alter role authenticator in database \"{database}\" set pgrst.{name} = 'true'")
    rest.sql_as_postgres("notify pgrst, 'reload config'")
    poll(lambda: _aggregates_answer(rest) == 200, "aggregates never got enabled")
    try:
        yield
    finally:
        for name in FEATURES:
            rest.sql_as_postgres(f'alter role authenticator in database "{database}" reset pgrst.{name}')
        rest.sql_as_postgres("notify pgrst, 'reload config'")
        poll(lambda: _aggregates_answer(rest) == 400, "aggregates never got disabled")
