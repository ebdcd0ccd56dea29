"""JWT checks at connect, join and on `access_token`: a bad or expired token closes the channel."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets

from devstack.tokens import encode, now
from tests.conftest import SETTINGS
from tests.realtime.clients import Inbox, client, subscribe
from tests.realtime.conftest import RtStack


async def _closed_with_system_error(states: Inbox) -> str:
    state, error = await states.next()
    assert state.value == "CHANNEL_ERROR", (state, error)
    closed, _ = await states.next()
    assert closed.value == "CLOSED"
    return str(error)


async def test_a_token_that_expires_closes_the_channel(rt_stack: RtStack) -> None:
    user = str(uuid.uuid4())
    async with client(rt_stack, rt_stack.anon_key, rt_stack.user_token(user, ttl=2)) as supabase:
        channel = supabase.channel("expiring").on_postgres_changes("*", Inbox(), table="rt_notes")
        states = await subscribe(channel)
        message = json.loads(await _closed_with_system_error(states))
        assert message["status"] == "error"
        assert message["extension"] == "system"
        assert message["message"].startswith("Token has expired")


async def test_an_invalid_access_token_closes_the_channel(rt_stack: RtStack) -> None:
    async with client(rt_stack, rt_stack.anon_key) as supabase:
        channel = supabase.channel("refreshing").on_postgres_changes("*", Inbox(), table="rt_messages")
        states = await subscribe(channel)
        await supabase.realtime.set_auth("new-token-xyz")
        message = json.loads(await _closed_with_system_error(states))
        assert message["message"] == "The token provided is not a valid JWT"


async def test_a_valid_access_token_keeps_the_channel(rt_stack: RtStack) -> None:
    user = str(uuid.uuid4())
    async with client(rt_stack, rt_stack.anon_key) as supabase:
        inbox = Inbox()
        channel = supabase.channel("upgrade").on_postgres_changes("INSERT", inbox, table="rt_notes")
        states = await subscribe(channel)
        await supabase.realtime.set_auth(rt_stack.user_token(user))
        # The claims are now the user's: RLS lets the user's own note through.
        await rt_stack.execute("insert into public.rt_notes (owner_id, body) values ($1, 'mine')", uuid.UUID(user))
        assert (await inbox.next())["data"]["record"]["body"] == "mine"
        assert states.drain() == []


async def test_an_expired_token_cannot_join(rt_stack: RtStack) -> None:
    expired = encode({"sub": str(uuid.uuid4()), "role": "authenticated", "exp": now() - 5}, rt_stack.jwt_secret)
    async with client(rt_stack, rt_stack.anon_key, expired) as supabase:
        states = Inbox()
        await supabase.channel("late").subscribe(states)
        state, error = await states.next()
        assert state.value == "CHANNEL_ERROR"
        assert "InvalidJWTToken: Token has expired" in str(error)


@pytest.mark.parametrize("apikey", ["not-a-jwt", encode({"role": "anon", "exp": now() + 60}, "wrong-secret" * 4)])
async def test_a_bad_apikey_is_refused_at_connect(rt_stack: RtStack, apikey: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{rt_stack.ws_url}?apikey={apikey}&vsn=1.0.0"):
            pass
    assert refused.value.response.status_code == 401


async def test_opaque_publishable_key_stands_for_the_anon_key(rt_stack: RtStack) -> None:
    key = SETTINGS.publishable_key
    async with websockets.connect(f"{rt_stack.ws_url}?apikey={key}&vsn=1.0.0") as ws:
        join = {"event": "phx_join", "topic": "realtime:opaque", "ref": "1", "join_ref": "1"}
        await ws.send(json.dumps({**join, "payload": {"config": {}, "access_token": key}}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply["payload"] == {"status": "ok", "response": {"postgres_changes": []}}
