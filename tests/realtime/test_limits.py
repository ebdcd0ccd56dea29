"""Realtime's limits as Supabase's defaults set them, with its replies, and bad frames answered without
closing the socket: 100 channels a socket, 3,000 KiB a broadcast payload, JSON nested too deep."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets

from devstack.jsonlimits import MAX_DEPTH
from tests.realtime.conftest import RtStack

TIMEOUT = 10
PAYLOAD_LIMIT = 3000 * 1024


@asynccontextmanager
async def _socket(stack: RtStack) -> AsyncIterator[websockets.ClientConnection]:
    url = f"{stack.ws_url}?apikey={stack.service_role_key}&vsn=1.0.0"
    async with websockets.connect(url, max_size=None) as ws:
        yield ws


async def _send(ws: websockets.ClientConnection, topic: str, event: str, payload: Any, ref: str) -> None:
    await ws.send(json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": ref}))


async def _reply(ws: websockets.ClientConnection, ref: str) -> dict[str, Any]:
    """The phx_reply to `ref` (other frames are skipped)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["event"] == "phx_reply" and frame["ref"] == ref:
            return dict(frame["payload"])


async def _join(ws: websockets.ClientConnection, topic: str, ref: str, *, ack: bool = False) -> dict[str, Any]:
    config = {"broadcast": {"ack": ack, "self": False}, "private": False}
    await _send(ws, f"realtime:{topic}", "phx_join", {"config": config}, ref)
    return await _reply(ws, ref)


async def _alive(ws: websockets.ClientConnection) -> bool:
    await _send(ws, "phoenix", "heartbeat", {}, "hb")
    return (await _reply(ws, "hb"))["status"] == "ok"


async def test_a_socket_joins_at_most_100_channels(rt_stack: RtStack) -> None:
    async with _socket(rt_stack) as ws:
        for n in range(100):
            assert (await _join(ws, f"many-{n}", str(n)))["status"] == "ok"
        refused = await _join(ws, "many-100", "100")
        assert refused == {"status": "error", "response": {"reason": "ChannelRateLimitReached: Too many channels"}}
        assert (await _join(ws, "many-7", "rejoin"))["status"] == "ok"  # a rejoin takes no new place
        await _send(ws, "realtime:many-8", "phx_leave", {}, "leave")
        await _reply(ws, "leave")
        assert (await _join(ws, "many-101", "101"))["status"] == "ok"  # a left channel frees its place
        assert await _alive(ws)


async def test_broadcast_payloads_over_the_limit_are_not_relayed(rt_stack: RtStack) -> None:
    big = {"blob": "x" * (PAYLOAD_LIMIT + 1)}
    async with _socket(rt_stack) as sender, _socket(rt_stack) as listener:
        assert (await _join(sender, "big", "1", ack=True))["status"] == "ok"
        assert (await _join(listener, "big", "1"))["status"] == "ok"
        await _send(sender, "realtime:big", "broadcast", {"type": "broadcast", "event": "e", "payload": big}, "2")
        assert await _reply(sender, "2") == {"status": "error", "response": "payload_size_exceeded"}
        small = {"type": "broadcast", "event": "e", "payload": {"ok": True}}
        await _send(sender, "realtime:big", "broadcast", small, "3")
        assert (await _reply(sender, "3"))["status"] == "ok"
        frame = json.loads(await asyncio.wait_for(listener.recv(), TIMEOUT))
        assert frame["payload"]["payload"] == {"ok": True}  # the big one never arrived before it
    headers = {"apikey": rt_stack.service_role_key, "Authorization": f"Bearer {rt_stack.service_role_key}"}
    url = f"{rt_stack.api_url}/realtime/v1/api/broadcast/big/events/e"
    async with httpx.AsyncClient(timeout=TIMEOUT) as http:
        response = await http.post(
            url, content=json.dumps(big), headers={**headers, "Content-Type": "application/json"}
        )
    assert (response.status_code, response.json()) == (
        422,
        {"errors": {"payload": ["Payload size exceeds tenant limit"]}},
    )


async def test_deep_json_frames_get_an_error_reply_and_the_socket_stays(rt_stack: RtStack) -> None:
    deep = "[" * 5000 + "]" * 5000
    async with _socket(rt_stack) as ws:
        assert (await _join(ws, "deep", "1", ack=True))["status"] == "ok"
        await ws.send('{"topic": "realtime:deep", "event": "broadcast", "ref": "2", "payload": ' + deep + "}")
        error = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert error["event"] == "phx_reply" and error["payload"]["status"] == "error"
        just_under = "[" * (MAX_DEPTH - 8) + "]" * (MAX_DEPTH - 8)
        await ws.send(
            '{"topic": "realtime:deep", "event": "broadcast", "ref": "3", "payload": '
            '{"type": "broadcast", "event": "e", "payload": ' + just_under + "}}"
        )
        assert (await _reply(ws, "3"))["status"] == "ok"
        assert await _alive(ws)
    headers = {"apikey": rt_stack.service_role_key, "Authorization": f"Bearer {rt_stack.service_role_key}"}
    body = '{"messages": [{"topic": "deep", "event": "e", "payload": ' + deep + "}]}"
    async with httpx.AsyncClient(timeout=TIMEOUT, headers={**headers, "Content-Type": "application/json"}) as http:
        batch = await http.post(f"{rt_stack.api_url}/realtime/v1/api/broadcast", content=body)
        single = await http.post(f"{rt_stack.api_url}/realtime/v1/api/broadcast/deep/events/e", content=deep)
    assert batch.status_code == 400, batch.text
    assert single.status_code == 400
