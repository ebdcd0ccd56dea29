"""A family sharing a child, through the official client: an owner, a caregiver and a viewer, and a stranger.

The owner signs up and adds the child (becoming its owner); the caregiver and the viewer sign up and join
by invitation (invite_child_member → accept_child_invitation), exactly as an app would. Every user has
their own supabase-py client signed in with their own session.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from realtime import RealtimeSubscribeStates
from supabase import AsyncClient, AsyncClientOptions, acreate_client

from tests.conftest import Stack
from tests.workers.conftest import admin, fake_llm, start_worker  # noqa: F401  (fixtures these tests share)

PASSWORD = "a-long-password"


@dataclass
class Member:
    client: AsyncClient
    user_id: str
    email: str
    access_token: str

    async def rpc(self, name: str, params: dict[str, Any]) -> Any:
        return (await self.client.rpc(name, params).execute()).data


@dataclass
class Family:
    owner: Member
    caregiver: Member
    viewer: Member
    stranger: Member
    child_id: str

    def everyone(self) -> dict[str, Member]:
        return {"owner": self.owner, "caregiver": self.caregiver, "viewer": self.viewer, "stranger": self.stranger}


Clients = Callable[..., Awaitable[Member]]
NewClient = Callable[..., Awaitable[AsyncClient]]


@pytest.fixture
async def new_client(stack: Stack) -> AsyncIterator[NewClient]:
    """A signed-out supabase-py client with the anon key (or another key, and extra headers), closed after the test."""
    pools: list[httpx.AsyncClient] = []
    clients: list[AsyncClient] = []

    async def make(headers: dict[str, str] | None = None, key: str | None = None) -> AsyncClient:
        pool = httpx.AsyncClient(timeout=30)
        pools.append(pool)
        options = AsyncClientOptions(auto_refresh_token=False, httpx_client=pool, headers=headers or {})
        client = await acreate_client(stack.api_url, key or stack.anon_key, options=options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.realtime.close(), 5)
    for pool in pools:
        await pool.aclose()


@pytest.fixture
async def sign_up(new_client: NewClient) -> Clients:
    """A signed-up user on their own supabase-py client."""

    async def make(prefix: str = "member") -> Member:
        client = await new_client()
        email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
        response = await client.auth.sign_up(
            {"email": email, "password": PASSWORD, "options": {"data": {"display_name": prefix.title()}}}
        )
        assert response.session is not None and response.user is not None
        return Member(client, response.user.id, email, response.session.access_token)

    return make


async def add_child(owner: Member, **fields: Any) -> str:
    row = {"name": "Noa", "date_of_birth": "2024-06-15", "timezone": "Asia/Jerusalem", **fields}
    inserted = await owner.client.table("children").insert(row).execute()
    return str(inserted.data[0]["id"])


async def join(owner: Member, member: Member, child_id: str, role: str) -> None:
    invitation = await owner.rpc(
        "invite_child_member", {"p_child_id": child_id, "p_email": member.email, "p_role": role}
    )
    accepted = await member.rpc("accept_child_invitation", {"p_token": invitation["token"]})
    assert accepted["child_id"] == child_id and accepted["role"] == role


@pytest.fixture
async def family(sign_up: Clients) -> Family:
    owner, caregiver, viewer, stranger = [await sign_up(name) for name in ("owner", "caregiver", "viewer", "stranger")]
    child_id = await add_child(owner)
    await join(owner, caregiver, child_id, "caregiver")
    await join(owner, viewer, child_id, "viewer")
    return Family(owner, caregiver, viewer, stranger, child_id)


@dataclass
class Inbox:
    """Postgres Changes a member received, in order; `next()` waits for one."""

    items: asyncio.Queue[dict[str, Any]]

    async def next(self, within: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.items.get(), within)

    def drain(self) -> list[dict[str, Any]]:
        out = []
        while not self.items.empty():
            out.append(self.items.get_nowait())
        return out


async def watch(member: Member, table: str, child_id: str, event: str = "INSERT") -> Inbox:
    """Subscribe the member to a child-scoped table's changes for one child (RLS decides what arrives)."""
    inbox = Inbox(asyncio.Queue())
    subscribed, system = asyncio.Event(), asyncio.Event()
    await member.client.realtime.set_auth(member.access_token)
    channel = member.client.channel(f"{table}-{uuid.uuid4().hex[:8]}")
    channel.on_postgres_changes(
        event,
        lambda change: inbox.items.put_nowait(change["data"]["record"]),
        table=table,
        filter=f"child_id=eq.{child_id}",
    )
    channel.on_system(lambda message: system.set())

    def state(status: RealtimeSubscribeStates, error: Exception | None) -> None:
        if status == RealtimeSubscribeStates.SUBSCRIBED:
            subscribed.set()

    await channel.subscribe(state)
    await asyncio.wait_for(subscribed.wait(), 10)
    await asyncio.wait_for(system.wait(), 10)  # "Subscribed to PostgreSQL": changes flow from here on
    return inbox
