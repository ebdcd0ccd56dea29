"""Phoenix channel frames as the Supabase clients speak them: vsn 1.0.0 objects, vsn 2.0.0 arrays and binary.

vsn 1.0.0 (supabase-py) sends and expects one JSON object per text frame; every server frame carries a
`ref` key, even when null, because the Python client validates frames and drops those without it.
vsn 2.0.0 (supabase-js) uses `[join_ref, ref, topic, event, payload]` arrays, and binary frames for user
broadcasts: kind 3 client → server, kind 4 server → client (see supabase-realtime.md §2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from devstack import jsonlimits

VSN_1 = "1.0.0"
VSN_2 = "2.0.0"
SUPPORTED_VSNS = (VSN_1, VSN_2)

KIND_USER_BROADCAST_PUSH = 3
KIND_USER_BROADCAST = 4
ENCODING_BINARY = 0
ENCODING_JSON = 1


class FrameError(ValueError):
    """A client frame that cannot be understood; the socket answers it and carries on."""


@dataclass
class Frame:
    topic: str
    event: str
    payload: Any = field(default_factory=dict)
    ref: str | None = None
    join_ref: str | None = None
    size: int = 0  # for frames received: an upper bound of their size in bytes, so of their payload's


@dataclass(frozen=True)
class BinaryBroadcast:
    """A user broadcast whose payload is raw bytes (only vsn 2.0.0 sockets can carry it)."""

    event: str
    data: bytes
    meta: dict[str, Any] | None = None


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int):
        return str(value)
    raise FrameError(f"ref must be a string, not {type(value).__name__}")


def decode_text(vsn: str, text: str) -> Frame:
    try:
        raw = jsonlimits.loads(text)
    except ValueError as exc:  # not JSON, or nested deeper than the devstack parses
        raise FrameError(f"invalid JSON: {exc}") from exc
    if vsn == VSN_2:
        if not isinstance(raw, list) or len(raw) != 5:
            raise FrameError("a vsn 2.0.0 frame is a 5-element array")
        join_ref, ref, topic, event, payload = raw
    else:
        if not isinstance(raw, dict):
            raise FrameError("a vsn 1.0.0 frame is a JSON object")
        join_ref, ref = raw.get("join_ref"), raw.get("ref")
        topic, event, payload = raw.get("topic"), raw.get("event"), raw.get("payload", {})
    if not isinstance(topic, str) or not isinstance(event, str):
        raise FrameError("topic and event must be strings")
    frame = Frame(topic, event, payload if payload is not None else {}, _opt_str(ref), _opt_str(join_ref))
    frame.size = 4 * len(text)  # UTF-8 takes at most 4 bytes a character
    return frame


def decode_binary(data: bytes) -> Frame:
    """A kind-3 user broadcast push: header lengths, then join_ref, ref, topic, event, meta, payload."""
    if len(data) < 7 or data[0] != KIND_USER_BROADCAST_PUSH:
        raise FrameError("unsupported binary frame")
    sizes = data[1:6]
    encoding = data[6]
    offset = 7
    parts: list[str] = []
    for size in sizes:
        chunk = data[offset : offset + size]
        if len(chunk) != size:
            raise FrameError("truncated binary frame")
        try:
            parts.append(chunk.decode())
        except UnicodeDecodeError as exc:
            raise FrameError(f"invalid header text: {exc}") from exc
        offset += size
    join_ref, ref, topic, event, meta_text = parts
    body = data[offset:]
    user_payload: Any
    if encoding == ENCODING_JSON:
        try:
            user_payload = jsonlimits.loads(body) if body else {}
        except ValueError as exc:
            raise FrameError(f"invalid JSON payload: {exc}") from exc
    else:
        user_payload = bytes(body)
    payload: dict[str, Any] = {"type": "broadcast", "event": event, "payload": user_payload}
    if meta_text:
        try:
            meta = jsonlimits.loads(meta_text)
        except ValueError as exc:
            raise FrameError(f"invalid metadata: {exc}") from exc
        if not isinstance(meta, dict):
            raise FrameError("metadata must be a JSON object")
        payload.update(meta)
    return Frame(topic, "broadcast", payload, ref or None, join_ref or None, len(data))


def encode(vsn: str, frame: Frame) -> str:
    if vsn == VSN_2:
        return json.dumps([frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload])
    return json.dumps({"topic": frame.topic, "event": frame.event, "payload": frame.payload, "ref": frame.ref})


def encode_user_broadcast(topic: str, event: str, payload: Any, meta: dict[str, Any] | None) -> bytes:
    """A kind-4 server → client broadcast; `payload` bytes travel raw, anything else as JSON."""
    t, e = topic.encode(), event.encode()
    m = json.dumps(meta).encode() if meta else b""
    if max(len(t), len(e), len(m)) > 255:
        raise FrameError("topic, event or metadata longer than 255 bytes")
    if isinstance(payload, bytes | bytearray):
        encoding, body = ENCODING_BINARY, bytes(payload)
    else:
        encoding, body = ENCODING_JSON, json.dumps(payload).encode()
    return bytes([KIND_USER_BROADCAST, len(t), len(e), len(m), encoding]) + t + e + m + body


def reply(frame: Frame, status: str, response: dict[str, Any] | None = None) -> Frame:
    """The `phx_reply` to `frame`, echoing its refs."""
    payload = {"status": status, "response": response if response is not None else {}}
    return Frame(frame.topic, "phx_reply", payload, frame.ref, frame.join_ref)
