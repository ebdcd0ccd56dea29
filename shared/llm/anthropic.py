"""Claude through the official Anthropic SDK: streaming, prompt caching, errors classified.

The SDK's own retries are off (`max_retries=0`): retries belong to the durable job layer, which
honours the `retry_after` carried by `TransientError`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from shared.errors import PermanentError, TransientError
from shared.http import MODEL_CONNECTIONS, use_aiohttp
from shared.llm.base import Completion, Prompt, StreamEvent, TextDelta, Tool, Usage
from shared.llm.sse import sse_data

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
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0, http_client=http_client
        )

    async def stream(self, prompt: Prompt) -> AsyncIterator[StreamEvent]:
        """Text deltas as they arrive, then one Completion.

        The SDK sends the request (headers, retries off, status errors as APIStatusError); the event
        stream's JSON is read here and only the text, model, stop reason and usage are kept. The SDK's
        own stream builds a pydantic model of every event, about a third of the worker's CPU per model
        call under load; the `messages.stream()` helper also rebuilds a snapshot of the whole message on
        every event.
        """
        parts: list[str] = []
        model, stop_reason, saw_stop = prompt.model, None, False
        usage: dict[str, int] = {}
        try:
            request = self._client.messages.with_streaming_response.create(**_request(prompt), stream=True)
            async with request as response:
                async for data in sse_data(response.iter_lines()):
                    event = json.loads(data)
                    kind = event.get("type") if isinstance(event, dict) else None
                    if kind == "content_block_delta":
                        delta = event.get("delta") or {}
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            parts.append(delta["text"])
                            yield TextDelta(delta["text"])
                    elif kind == "message_start":
                        message = event.get("message") or {}
                        model = message.get("model") or model
                        _merge_usage(usage, message.get("usage"))
                    elif kind == "message_delta":
                        stop_reason = (event.get("delta") or {}).get("stop_reason") or stop_reason
                        _merge_usage(usage, event.get("usage"))
                    elif kind == "message_stop":
                        saw_stop = True
                    elif kind == "error":
                        raise _stream_error(event.get("error") or {}, response.headers)
        except anthropic.APIError as exc:
            raise classify(exc) from exc
        except httpx2.TransportError as exc:  # the connection broke mid-stream
            raise TransientError(f"anthropic stream broken: {exc!r}") from exc
        except json.JSONDecodeError as exc:
            raise TransientError(f"anthropic sent an event that is not JSON: {exc}") from exc
        if not saw_stop:
            raise TransientError("the model's stream ended before message_stop")
        yield Completion(
            text="".join(parts),
            model=model,
            stop_reason=stop_reason,
            tool_input=None,
            usage=Usage(
                input_tokens=usage.get("input_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
                cache_read_tokens=usage.get("cache_read_input_tokens", 0),
                cache_write_tokens=usage.get("cache_creation_input_tokens", 0),
            ),
        )

    async def complete(self, prompt: Prompt, tool: Tool | None = None) -> Completion:
        kwargs = _request(prompt)
        if tool is not None:
            kwargs["tools"] = [{"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}]
            kwargs["tool_choice"] = {"type": "tool", "name": tool.name}
        try:
            message = await self._client.messages.create(**kwargs)
        except anthropic.APIError as exc:
            raise classify(exc) from exc
        return _completion(message)

    async def aclose(self) -> None:
        await self._client.close()


def classify(exc: anthropic.APIError) -> TransientError | PermanentError:
    """Map an SDK error to our kinds; 429/5xx/529/timeouts/in-stream overload are transient."""
    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        return TransientError(f"anthropic unreachable: {exc}")
    if isinstance(exc, anthropic.APIStatusError):
        return _classified(exc.status_code, _error_type(exc), _error_message(exc), exc.response.headers)
    return TransientError(f"anthropic error: {exc}")


def _classified(status: int, kind: str | None, text: str, headers: httpx2.Headers) -> TransientError | PermanentError:
    """An API error (HTTP status, or 200 for an `error` event inside a stream) → our kinds."""
    message = f"anthropic {status} {kind or ''}: {text}".replace("  ", " ")
    if status in _RETRYABLE_4XX or status >= 500 or (status == 200 and kind in _RETRYABLE_TYPES):
        return TransientError(message, retry_after=_retry_after(headers))
    return PermanentError(message)


def _request(prompt: Prompt) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": prompt.model,
        "max_tokens": prompt.max_tokens,
        "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
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


def _completion(message: Any) -> Completion:
    text = "".join(b.text for b in message.content if b.type == "text")
    tool_input = next((dict(b.input) for b in message.content if b.type == "tool_use"), None)
    usage = message.usage
    return Completion(
        text=text,
        model=message.model,
        stop_reason=message.stop_reason,
        tool_input=tool_input,
        usage=Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
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


def _error_type(exc: anthropic.APIStatusError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else getattr(exc, "type", None)


def _error_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return str(exc.message)


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
