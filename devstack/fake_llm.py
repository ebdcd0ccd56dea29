"""A fake Anthropic Messages API over real HTTP, for tests, chaos runs and benchmarks (never production).

It speaks the recorded wire format (SSE events with `event:` lines, error bodies, `retry-after-ms`) so the
official SDK parses it exactly as it parses the real API. Replies echo the last user message. Markers in
that message script failures, counted per distinct message so a retry sees the next behaviour:

  [[429]]        first attempt answers 429 (retry-after-ms 50), later attempts succeed
  [[529]]        first attempt answers 529 overloaded
  [[500]]        first attempt answers 500
  [[400]]        every attempt answers 400 (a permanent error)
  [[overloaded]] first attempt streams a little, then an in-stream overloaded_error event
  [[break]]      first attempt stream is cut before message_stop
  [[slow]]       every chunk waits `slow_chunk_seconds` (to kill a worker mid-stream)
  [[timeout]]    first attempt waits `timeout_seconds` before answering

With `tools` in the request it answers with a `tool_use` block whose input is a minimal valid example of
the tool's input schema. Tool markers are looked up in every user message and counted per conversation
(its first user message), so the repair request after invalid output counts as the next attempt:

  [[invalid_tool]]         first attempt's tool input misses every required field
  [[invalid_tool_always]]  every attempt's tool input does

`python -m devstack.fake_llm --port 8765 --ttft-ms 200 --tokens-per-second 60`
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared.llm.offline import example_input

log = logging.getLogger("devstack.fake_llm")

MARKER = re.compile(r"\[\[([a-z0-9_]+)\]\]")
ONCE = {"429", "529", "500", "overloaded", "break", "timeout"}


@dataclass
class FakeModelConfig:
    ttft_seconds: float = 0.0
    tokens_per_second: float = 0.0  # 0: as fast as possible
    chunk_chars: int = 8
    slow_chunk_seconds: float = 1.0
    timeout_seconds: float = 30.0
    model: str = "claude-fake-1"
    attempts: Counter[str] = field(default_factory=Counter)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}
    return JSONResponse(body, status_code=status, headers={"request-id": "req_fake", **(headers or {})})


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class FakeAnthropic:
    def __init__(self, config: FakeModelConfig) -> None:
        self.config = config

    async def messages(self, request: Request) -> Response:
        body = await request.json()
        if body.get("tools"):
            return self._tool_use(body)
        text = _last_user_text(body)
        markers = set(MARKER.findall(text))
        key = hashlib.sha256(text.encode()).hexdigest()
        self.config.attempts[key] += 1
        first = self.config.attempts[key] == 1
        active = {m for m in markers if m not in ONCE or first}
        if "timeout" in active:
            await asyncio.sleep(self.config.timeout_seconds)
        for status, kind in (("429", "rate_limit_error"), ("529", "overloaded_error"), ("500", "api_error")):
            if status in active:
                return _error(int(status), kind, f"scripted {status}", {"retry-after-ms": "50"})
        if "400" in active:
            return _error(400, "invalid_request_error", "scripted permanent error")
        reply = f"Echo: {MARKER.sub('', text).strip()}"
        usage_in = max(1, sum(len(json.dumps(m)) for m in body.get("messages") or []) // 4)
        if not body.get("stream"):
            return JSONResponse(self._message(reply, usage_in, len(reply) // 4 + 1))
        return StreamingResponse(self._stream(reply, usage_in, active), media_type="text/event-stream")

    def _tool_use(self, body: dict[str, Any]) -> Response:
        texts = [_text(m.get("content")) for m in body.get("messages") or [] if m.get("role") == "user"]
        markers = set(MARKER.findall(" ".join(texts)))
        key = "tool:" + hashlib.sha256((texts[0] if texts else "").encode()).hexdigest()
        self.config.attempts[key] += 1
        choice = body.get("tool_choice") or {}
        tool = next((t for t in body["tools"] if t.get("name") == choice.get("name")), body["tools"][0])
        invalid = "invalid_tool_always" in markers or ("invalid_tool" in markers and self.config.attempts[key] == 1)
        tool_input = {} if invalid else example_input(tool.get("input_schema") or {}, "fake")
        message = self._message("", max(1, sum(len(t) for t in texts) // 4), 20)
        message["content"] = [{"type": "tool_use", "id": "toolu_fake", "name": tool["name"], "input": tool_input}]
        message["stop_reason"] = "tool_use"
        return JSONResponse(message)

    def _message(self, text: str, usage_in: int, usage_out: int) -> dict[str, Any]:
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": self.config.model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": usage_in,
                "output_tokens": usage_out,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }

    async def _stream(self, reply: str, usage_in: int, active: set[str]) -> AsyncIterator[bytes]:
        config = self.config
        start = self._message("", usage_in, 1)
        start["content"], start["stop_reason"] = [], None
        yield _sse("message_start", {"type": "message_start", "message": start})
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
        if config.ttft_seconds:
            await asyncio.sleep(config.ttft_seconds)
        chunks = [reply[i : i + config.chunk_chars] for i in range(0, len(reply), config.chunk_chars)]
        per_chunk = (config.chunk_chars / 4) / config.tokens_per_second if config.tokens_per_second else 0.0
        for index, chunk in enumerate(chunks):
            if index and (per_chunk or "slow" in active):
                await asyncio.sleep(config.slow_chunk_seconds if "slow" in active else per_chunk)
            yield _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}},
            )
            if index == len(chunks) // 2 and "overloaded" in active:
                yield _sse("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
                return
            if index == len(chunks) // 2 and "break" in active:
                return
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(reply) // 4 + 1},
            },
        )
        yield _sse("message_stop", {"type": "message_stop"})

    async def reset(self, _: Request) -> Response:
        self.config.attempts.clear()
        return JSONResponse({"ok": True})

    async def stats(self, _: Request) -> Response:
        return JSONResponse({"requests": sum(self.config.attempts.values())})


def create_app(config: FakeModelConfig) -> Starlette:
    fake = FakeAnthropic(config)
    return Starlette(
        routes=[
            Route("/v1/messages", fake.messages, methods=["POST"]),
            Route("/_reset", fake.reset, methods=["POST"]),
            Route("/_stats", fake.stats, methods=["GET"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.fake_llm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--ttft-ms", type=float, default=0)
    parser.add_argument("--tokens-per-second", type=float, default=0)
    parser.add_argument("--slow-chunk-seconds", type=float, default=1.0)
    parser.add_argument("--timeout-seconds", type=float, default=30.0, help="how long [[timeout]] stalls")
    args = parser.parse_args(argv)
    config = FakeModelConfig(
        ttft_seconds=args.ttft_ms / 1000,
        tokens_per_second=args.tokens_per_second,
        slow_chunk_seconds=args.slow_chunk_seconds,
        timeout_seconds=args.timeout_seconds,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning", timeout_keep_alive=75)


if __name__ == "__main__":
    main()
