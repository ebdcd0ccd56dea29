"""The Phoenix wire protocol on a raw websocket: vsn 1.0.0 objects, vsn 2.0.0 arrays and binary frames."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets

from devstack.realtime.protocol import encode_user_broadcast
from tests.realtime.conftest import RtStack

TIMEOUT = 5


async def _recv(ws: websockets.ClientConnection) -> Any:
    raw = await asyncio.wait_for(ws.recv(), TIMEOUT)
    return raw if isinstance(raw, bytes) else json.loads(raw)


def _join(topic: str, ref: str, config: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"config": config}
    if token:
        payload["access_token"] = token
    return {"event": "phx_join", "topic": topic, "payload": payload, "ref": ref, "join_ref": ref}


async def test_vsn1_join_heartbeat_leave_and_bad_frames(rt_stack: RtStack) -> None:
    async with websockets.connect(f"{rt_stack.ws_url}?apikey={rt_stack.anon_key}&vsn=1.0.0") as ws:
        bindings = [
            {"event": "INSERT", "schema": "public", "table": "rt_messages"},
            {"event": "*", "schema": "public", "table": "rt_messages", "filter": "id=eq.1"},
        ]
        config = {"broadcast": {"ack": False, "self": False}, "private": False, "postgres_changes": bindings}
        await ws.send(json.dumps(_join("realtime:raw", "1", config, rt_stack.anon_key)))
        reply = await _recv(ws)
        assert reply["event"] == "phx_reply" and reply["ref"] == "1"
        echoed = reply["payload"]["response"]["postgres_changes"]
        assert [{k: v for k, v in b.items() if k != "id"} for b in echoed] == bindings
        assert all(isinstance(b["id"], int) and b["id"] > 0 for b in echoed)
        system = await _recv(ws)
        assert system == {
            "topic": "realtime:raw",
            "event": "system",
            "payload": {
                "message": "Subscribed to PostgreSQL",
                "status": "ok",
                "extension": "postgres_changes",
                "channel": "raw",
            },
            "ref": None,
        }
        await ws.send("{not json")
        assert (await _recv(ws))["payload"]["status"] == "error"
        await ws.send(json.dumps({"event": "heartbeat", "topic": "phoenix", "payload": {}, "ref": "7"}))
        assert await _recv(ws) == {
            "topic": "phoenix",
            "event": "phx_reply",
            "payload": {"status": "ok", "response": {}},
            "ref": "7",
        }
        await ws.send(json.dumps({"event": "phx_leave", "topic": "realtime:raw", "payload": {}, "ref": "8"}))
        leave = await _recv(ws)
        assert (leave["event"], leave["ref"], leave["payload"]["status"]) == ("phx_reply", "8", "ok")


async def test_vsn2_arrays_and_binary_broadcasts(rt_stack: RtStack) -> None:
    url = f"{rt_stack.ws_url}?apikey={rt_stack.anon_key}&vsn=2.0.0"
    async with websockets.connect(url) as sender, websockets.connect(url) as receiver:
        config = {"broadcast": {"ack": True, "self": True}, "presence": {"key": "", "enabled": False}}
        for i, ws in enumerate((sender, receiver)):
            await ws.send(json.dumps([str(i), str(i), "realtime:room", "phx_join", {"config": config}]))
            join_ref, ref, topic, event, payload = await _recv(ws)
            assert (join_ref, ref, topic, event) == (str(i), str(i), "realtime:room", "phx_reply")
            assert payload == {"status": "ok", "response": {"postgres_changes": []}}
        push = _user_broadcast_push("0", "5", "realtime:room", "ping", {"n": 1})
        await sender.send(push)
        for ws in (sender, receiver):  # self: true, so the sender hears itself too
            frame = await _recv(ws)
            assert frame[0] == 4  # kind 4: user broadcast
            assert frame.endswith(b'{"n": 1}')
            assert b"realtime:room" in frame and b"ping" in frame
        ack = await _recv(sender)
        assert ack == ["0", "5", "realtime:room", "phx_reply", {"status": "ok", "response": {}}]
        await sender.send(json.dumps([None, "9", "phoenix", "heartbeat", {}]))
        assert await _recv(sender) == [None, "9", "phoenix", "phx_reply", {"status": "ok", "response": {}}]


def _user_broadcast_push(join_ref: str, ref: str, topic: str, event: str, payload: Any) -> bytes:
    fields = [s.encode() for s in (join_ref, ref, topic, event, "")]
    header = bytes([3, *(len(f) for f in fields), 1])
    return header + b"".join(fields) + json.dumps(payload).encode()


def test_server_binary_broadcast_layout() -> None:
    frame = encode_user_broadcast("realtime:t", "e", {"a": 1}, {"id": "x"})
    assert frame[:5] == bytes([4, 10, 1, 11, 1])
    assert frame[5:] == b'realtime:te{"id": "x"}{"a": 1}'


async def test_a_rejoin_replaces_the_channel_without_closing_it(rt_stack: RtStack) -> None:
    async with websockets.connect(f"{rt_stack.ws_url}?apikey={rt_stack.anon_key}&vsn=1.0.0") as ws:
        for ref in ("1", "2"):
            await ws.send(json.dumps(_join("realtime:again", ref, {"broadcast": {"self": True}})))
            reply = await _recv(ws)
            assert (reply["event"], reply["ref"]) == ("phx_reply", ref)  # no phx_close for the old join
        broadcast = {"type": "broadcast", "event": "e", "payload": {}}
        await ws.send(json.dumps({"event": "broadcast", "topic": "realtime:again", "payload": broadcast, "ref": "3"}))
        assert (await _recv(ws))["event"] == "broadcast"  # delivered once: the first channel is gone
        await ws.send(json.dumps({"event": "heartbeat", "topic": "phoenix", "payload": {}, "ref": "4"}))
        assert (await _recv(ws))["ref"] == "4"


async def test_frames_are_not_compressed_as_on_the_realtime_server(rt_stack: RtStack) -> None:
    # The client offers permessage-deflate (websockets does by default); Phoenix sockets without
    # `compress` decline it, and so does the gateway.
    async with websockets.connect(f"{rt_stack.ws_url}?apikey={rt_stack.anon_key}&vsn=1.0.0") as ws:
        assert ws.response is not None
        assert "sec-websocket-extensions" not in {name.lower() for name in ws.response.headers}
