"""Claude over the Messages API: streaming, tool use, prompt caching, errors classified.

Requests go through the official SDK's HTTP client (`anthropic.DefaultAioHttpClient`: httpx2's API over
aiohttp), to the SDK's URL with the headers it sends (its key header, `anthropic-version`); the request's
JSON is built and the response's JSON or event stream read here, as the OpenAI-compatible provider does.
The SDK's own request layer (request options, header building, response wrapper, exception classes) was
half of the client's CPU per model call: ~0.5 ms of ~1 ms for a classifier call against a local server,
on every call of every reply and assessment. Nothing else of it was used: its retries were off, as
retries belong to the durable job layer, which honours the `retry_after` carried by `TransientError`.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from shared.errors import PermanentError, TransientError
from shared.http import MODEL_CONNECTIONS, use_aiohttp
from shared.llm.base import (
    Block,
    ChatMessage,
    Completion,
    ImageBlock,
    Prompt,
    StreamEvent,
    TextBlock,
    TextDelta,
    Tool,
    ToolResult,
    ToolUse,
    Usage,
)
from shared.llm.sse import sse_data
from shared.llm.tool_input import parse_tool_input

log = logging.getLogger("shared.llm.anthropic")

# Statuses worth retrying besides 429 and 5xx: request timeout and conflict.
_RETRYABLE_4XX = {408, 409, 429}
# Error types that arrive inside an HTTP 200 stream and are worth retrying.
_RETRYABLE_TYPES = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout: float = 120.0,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        if http_client is None:  # else a client passed in (tests: recorded responses)
            limits = httpx2.Limits(max_connections=MODEL_CONNECTIONS, max_keepalive_connections=MODEL_CONNECTIONS)
            # The SDK's aiohttp client (see shared/http.py); httpx's own where the environment names a proxy.
            factory = anthropic.DefaultAioHttpClient if use_aiohttp() else anthropic.DefaultAsyncHttpxClient
            http_client = factory(limits=limits)
        self._client = http_client
        # The SDK's own URL and headers (its key header, API version and client description), taken once.
        sdk = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, http_client=http_client, max_retries=0)
        self._url = str(sdk.base_url).rstrip("/") + "/v1/messages"
        self._headers = {
            name: value
            for name, value in sdk.default_headers.items()
            if isinstance(value, str) and name.lower() != "x-stainless-async"  # that one is read in a request
        }
        self._timeout = httpx2.Timeout(timeout, connect=min(timeout, 10.0))

    async def stream(self, prompt: Prompt) -> AsyncIterator[StreamEvent]:
        """Text deltas as they arrive, then one Completion (with the turn's tool calls, if any).

        Only the text, tool calls, model, stop reason and usage are kept from the event stream. (The SDK's
        own stream built a pydantic model of every event, about a third of the worker's CPU per model call
        under load; its `messages.stream()` helper also rebuilt a snapshot of the whole message on every
        event.)"""
        request = _request(prompt)
        if prompt.tools:
            request["tools"] = [_tool(t) for t in prompt.tools]
            request["tool_choice"] = {"type": "auto"}
        request["stream"] = True
        turn = _Turn(prompt.model)
        try:
            async with self._client.stream(
                "POST", self._url, content=_body(request), headers=self._headers, timeout=self._timeout
            ) as response:
                if response.status_code >= 400:
                    raise _status_error(response.status_code, await response.aread(), response.headers)
                async for data in sse_data(response.aiter_lines()):
                    text = turn.read(json.loads(data), response.headers)
                    if text:
                        yield TextDelta(text)
        except httpx2.TransportError as exc:  # refused, timed out, reset, or broken mid-stream
            raise TransientError(f"anthropic unreachable or its stream broken: {exc!r}") from exc
        except json.JSONDecodeError as exc:
            raise TransientError(f"anthropic sent an event that is not JSON: {exc}") from exc
        if not turn.stopped:
            raise TransientError("the model's stream ended before message_stop")
        yield turn.completion()

    async def complete(self, prompt: Prompt, tool: Tool | None = None) -> Completion:
        """One message, not streamed (with `tool`: forced to call it), read from its JSON. (The SDK's
        pydantic model of it was ~4 % of the worker's CPU under load: the safety classifier asks once per
        user message.)"""
        request = _request(prompt)
        if tool is not None:
            request["tools"] = [_tool(tool)]
            request["tool_choice"] = {"type": "tool", "name": tool.name}
        # Not streamed, nothing arrives until the whole message is written: the wait for it grows with
        # max_tokens, as the SDK's own estimate does (an hour for 128,000 tokens).
        read = max(self._timeout.read or 0.0, 3600 * prompt.max_tokens / 128_000)
        timeout = httpx2.Timeout(self._timeout.read, connect=self._timeout.connect, read=read)
        try:
            response = await self._client.post(
                self._url, content=_body(request), headers=self._headers, timeout=timeout
            )
        except httpx2.TransportError as exc:  # refused, timed out, reset, or broken while the body was read
            raise TransientError(f"anthropic unreachable or its response broken: {exc!r}") from exc
        if response.status_code >= 400:
            raise _status_error(response.status_code, response.content, response.headers)
        try:
            message = json.loads(response.content)
        except json.JSONDecodeError as exc:
            raise TransientError(f"anthropic sent a message that is not JSON: {exc}") from exc
        if not isinstance(message, dict) or message.get("type") != "message":
            raise TransientError(f"anthropic sent something other than a message: {str(message)[:200]}")
        return _completion(message)

    async def aclose(self) -> None:
        await self._client.aclose()


def _body(request: dict[str, Any]) -> bytes:
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode()


def _status_error(status: int, body: bytes, headers: httpx2.Headers) -> TransientError | PermanentError:
    """An HTTP error answer (`{"type": "error", "error": {"type", "message"}}`) → our kinds."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    error = error if isinstance(error, dict) else {}
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    text = error.get("message") if isinstance(error.get("message"), str) else body[:300].decode(errors="replace")
    return _classified(status, kind, str(text), headers)


def _classified(status: int, kind: str | None, text: str, headers: httpx2.Headers) -> TransientError | PermanentError:
    """An API error (HTTP status, or 200 for an `error` event inside a stream) → our kinds."""
    message = f"anthropic {status} {kind or ''}: {text}".replace("  ", " ")
    retry = status in _RETRYABLE_4XX or status >= 500 or (status == 200 and kind in _RETRYABLE_TYPES)
    should = headers.get("x-should-retry", "").strip().lower()
    if should in ("true", "false") and status != 200:  # the API's own word on an HTTP error overrides
        retry = should == "true"
    if retry:
        return TransientError(message, retry_after=_retry_after(headers))
    return PermanentError(message)


def _request(prompt: Prompt) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": prompt.model,
        "max_tokens": prompt.max_tokens,
        "messages": [_message(m) for m in prompt.messages],
    }
    if prompt.system:
        blocks: list[dict[str, Any]] = []
        for block in prompt.system:
            item: dict[str, Any] = {"type": "text", "text": block.text}
            if block.cache:
                item["cache_control"] = {"type": "ephemeral"}
            blocks.append(item)
        request["system"] = blocks
    # anthropic 2.x no longer takes `temperature` (current models fix their own sampling): not sent.
    return request


def _message(message: ChatMessage) -> dict[str, Any]:
    """A turn as the Messages API takes it: plain text stays a string, blocks become content blocks.

    A user turn's tool results go first: the API refuses a turn after tool calls that does not begin
    with their results. Empty text blocks are left out (the API refuses them too)."""
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    blocks = sorted(message.content, key=lambda b: not isinstance(b, ToolResult))  # stable: order kept
    return {"role": message.role, "content": [_block(b) for b in blocks if not _empty_text(b)]}


def _block(block: Block) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"type": "text", "text": block.text}
    if isinstance(block, ToolUse):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if isinstance(block, ImageBlock):
        data = base64.b64encode(block.data).decode("ascii")
        return {"type": "image", "source": {"type": "base64", "media_type": block.media_type, "data": data}}
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": block.tool_use_id, "content": block.content}
    if block.is_error:
        result["is_error"] = True
    return result


def _empty_text(block: Block) -> bool:
    return isinstance(block, TextBlock) and not block.text.strip()


def _tool(tool: Tool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}


class _Turn:
    """One streamed turn, read event by event: its text, tool calls, model, stop reason and usage."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.parts: list[str] = []
        self.tools: dict[int, _ToolBlock] = {}  # by content block index: open until content_block_stop
        self.calls: dict[int, ToolUse] = {}
        self.stop_reason: str | None = None
        self.usage: dict[str, int] = {}
        self.stopped = False

    def read(self, event: Any, headers: httpx2.Headers) -> str | None:
        """Take in one event; returns the text it adds, if any (an `error` event raises)."""
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use" and isinstance(event.get("index"), int):
                self.tools[event["index"]] = _ToolBlock(
                    str(block.get("id") or ""), str(block.get("name") or ""), block.get("input")
                )
        elif kind == "content_block_stop":
            self._close(event.get("index"))
        elif kind == "message_start":
            message = event.get("message") or {}
            self.model = message.get("model") or self.model
            _merge_usage(self.usage, message.get("usage"))
        elif kind == "message_delta":
            self.stop_reason = (event.get("delta") or {}).get("stop_reason") or self.stop_reason
            _merge_usage(self.usage, event.get("usage"))
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            raise _stream_error(event.get("error") or {}, headers)
        return None  # ping, and event types added later

    def _delta(self, event: dict[str, Any]) -> str | None:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta" and delta.get("text"):
            self.parts.append(delta["text"])
            return str(delta["text"])
        if delta.get("type") == "input_json_delta" and event.get("index") in self.tools:
            self.tools[event["index"]].parts.append(str(delta.get("partial_json") or ""))
        return None

    def _close(self, index: Any) -> None:
        block = self.tools.pop(index, None) if isinstance(index, int) else None
        if block is not None:
            self.calls[index] = block.call()

    def completion(self) -> Completion:
        for index in list(self.tools):  # a block never closed: what arrived of it is all there is
            self._close(index)
        return Completion(
            text="".join(self.parts),
            model=self.model,
            stop_reason=self.stop_reason,
            tool_input=None,
            tool_calls=tuple(self.calls[i] for i in sorted(self.calls)),
            usage=Usage(
                input_tokens=self.usage.get("input_tokens", 0),
                output_tokens=self.usage.get("output_tokens", 0),
                cache_read_tokens=self.usage.get("cache_read_input_tokens", 0),
                cache_write_tokens=self.usage.get("cache_creation_input_tokens", 0),
            ),
        )


@dataclass
class _ToolBlock:
    """A tool_use block being streamed: its input arrives as pieces of JSON text."""

    id: str
    name: str
    start: Any  # the `input` of content_block_start: `{}`, filled by the pieces
    parts: list[str] = field(default_factory=list)

    def call(self) -> ToolUse:
        # A tool without parameters may send no piece (or only empty ones): its input is then the start's.
        raw = "".join(self.parts) or (json.dumps(self.start) if self.start else "{}")
        return ToolUse(self.id, self.name, parse_tool_input(raw))


def _completion(message: dict[str, Any]) -> Completion:
    """A Messages API response (its JSON) → Completion: the text, the first tool call's input, usage."""
    content = [b for b in message.get("content") or [] if isinstance(b, dict)]
    text = "".join(str(b.get("text") or "") for b in content if b.get("type") == "text")
    tool_input = next(
        (dict(b["input"]) if isinstance(b.get("input"), dict) else {} for b in content if b.get("type") == "tool_use"),
        None,
    )
    usage: dict[str, int] = {}
    _merge_usage(usage, message.get("usage"))
    return Completion(
        text=text,
        model=str(message.get("model") or ""),
        stop_reason=message["stop_reason"] if isinstance(message.get("stop_reason"), str) else None,
        tool_input=tool_input,
        usage=Usage(
            input_tokens=usage.get("input_tokens", 0),
            output_tokens=usage.get("output_tokens", 0),
            cache_read_tokens=usage.get("cache_read_input_tokens", 0),
            cache_write_tokens=usage.get("cache_creation_input_tokens", 0),
        ),
    )


def _merge_usage(into: dict[str, int], usage: Any) -> None:
    """Usage counts are cumulative: message_start has the input side, message_delta the latest totals."""
    if not isinstance(usage, dict):
        return
    for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
        value = usage.get(name)
        if isinstance(value, int):
            into[name] = value


def _stream_error(error: dict[str, Any], headers: httpx2.Headers) -> TransientError | PermanentError:
    """An `error` event inside a 200 stream (overloaded_error and the like)."""
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    return _classified(200, kind, str(error.get("message", "")), headers)


def _retry_after(headers: httpx2.Headers) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return None
