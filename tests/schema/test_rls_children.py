"""Who may do what on the child-scoped tables and the children's Storage buckets (tests/schema/child_matrix.py):
every role against the shared child, as PostgREST and Storage make each role act."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from devstack.db import role_dsn
from tests.conftest import PASSWORD
from tests.schema.acting import ANON, SERVICE, Actor, acting, affected, user
from tests.schema.child_matrix import CHILD_MATRIX, CHILD_ROLES, STORAGE_MATRIX, build_child_world
from tests.schema.conftest import create_user

COMMANDS = ("select", "insert", "update", "delete")
CASES = [(t, c, r) for t, commands in CHILD_MATRIX.items() for c in commands for r in CHILD_ROLES]
STORAGE_CASES = [(b, c, r) for b, commands in STORAGE_MATRIX.items() for c in commands for r in CHILD_ROLES]


@pytest.fixture(scope="session")
def child_world(database: str) -> Iterator[dict[str, str]]:
    yield asyncio.run(build_child_world(database))


def actor(role: str, world: dict[str, str]) -> Actor:
    if role == "anon":
        return ANON
    if role == "service_role":
        return SERVICE
    return user(world[role])


async def attempt(dsn: str, world: dict[str, str], role: str, command: str, sql: str) -> bool:
    """Run the statement as the role; True when it saw or changed a row, False when refused (42501 or no row)."""
    rendered = sql.format(**{name: f"'{value}'" for name, value in world.items()})
    async with acting(dsn, actor(role, world)) as conn:
        try:
            if command == "select":
                return len(await conn.fetch(rendered)) > 0
            return affected(await conn.execute(rendered)) > 0
        except asyncpg.InsufficientPrivilegeError:
            return False


@pytest.mark.parametrize(("table", "command", "role"), CASES, ids=["-".join(c) for c in CASES])
async def test_child_matrix(database: str, child_world: dict[str, str], table: str, command: str, role: str) -> None:
    entry = CHILD_MATRIX[table][command]
    expected = role in entry.allowed
    allowed = await attempt(database, child_world, role, command, entry.sql)
    assert allowed == expected, f"{role} {'may' if expected else 'must not'} {command} on {table}"


@pytest.mark.parametrize(("bucket", "command", "role"), STORAGE_CASES, ids=["-".join(c) for c in STORAGE_CASES])
async def test_child_storage_matrix(
    database: str, child_world: dict[str, str], bucket: str, command: str, role: str
) -> None:
    entry = STORAGE_MATRIX[bucket][command]
    expected = role in entry.allowed
    allowed = await attempt(database, child_world, role, command, entry.sql)
    assert allowed == expected, f"{role} {'may' if expected else 'must not'} {command} objects in {bucket}"


def test_every_child_table_has_every_command() -> None:
    for table, commands in {**CHILD_MATRIX, **STORAGE_MATRIX}.items():
        assert set(commands) == set(COMMANDS), table


async def test_a_child_being_added_is_not_anyone_elses_to_claim(database: str) -> None:
    """Two inserts of one child id race: the second, `on conflict do nothing`, waits for the first to commit
    and then finds the id taken; its user does not become an owner of the first user's child."""
    admin = await asyncpg.connect(database)
    try:
        parent, intruder = await create_user(admin, "Parent"), await create_user(admin, "Intruder")
    finally:
        await admin.close()
    child = str(uuid.uuid4())
    insert = (
        "insert into public.children (id, name, date_of_birth, created_by) values ($1, 'Raced', '2024-01-01', $2) "
        "on conflict do nothing"
    )
    first = await signed_in(database, parent)
    second = await signed_in(database, intruder)
    try:
        await first.execute(insert, child, parent)
        claim = asyncio.create_task(second.execute(insert, child, intruder))
        await asyncio.sleep(0.3)
        assert not claim.done()  # waits for the first insert's transaction
        await first.execute("commit")
        assert await asyncio.wait_for(claim, 10) == "INSERT 0 0"
        await second.execute("commit")
    finally:
        await first.close()
        await second.close()
    admin = await asyncpg.connect(database)
    try:
        members = await admin.fetch(
            "select user_id::text, role::text from public.child_members where child_id = $1", child
        )
    finally:
        await admin.close()
    assert [tuple(m) for m in members] == [(parent, "owner")]


async def signed_in(dsn: str, user_id: str) -> asyncpg.Connection:
    """A connection in an open transaction as `user_id`, as PostgREST makes one (committed by the caller)."""
    conn = await asyncpg.connect(role_dsn(dsn, "authenticator", PASSWORD))
    await conn.execute("begin")
    await conn.execute("select set_config('role', 'authenticated', true)")
    await conn.execute(
        "select set_config('request.jwt.claims', $1, true)", json.dumps({"role": "authenticated", "sub": user_id})
    )
    return conn
