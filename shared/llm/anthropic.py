"""Claude through the official Anthropic SDK: streaming, prompt caching, errors classified.

The SDK's own retries are off (`max_retries=0`): retries belong to the durable job layer, which
honours the `retry_after` carried by `TransientError`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from shared.errors import PermanentError, TransientError
from shared.http import MODEL_CONNECTIONS, use_aiohttp
from shared.llm.base import Completion, Prompt, StreamEvent, TextDelta, Tool, Usage

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

        Reads the SDK's raw event stream (`create(stream=True)`) and keeps only the text, model, stop
        reason and usage: the `messages.stream()` helper rebuilds a snapshot of the whole message on every
        event, which under load was a large share of the worker's CPU.
        """
        parts: list[str] = []
        model, stop_reason, saw_stop = prompt.model, None, False
        usage: dict[str, int] = {}
        try:
            events = await self._client.messages.create(**_request(prompt), stream=True)
            async with events:
                async for event in events:
                    if event.type == "content_block_delta":
                        if event.delta.type == "text_delta" and event.delta.text:
                            parts.append(event.delta.text)
                            yield TextDelta(event.delta.text)
                    elif event.type == "message_start":
                        model = event.message.model
                        _merge_usage(usage, event.message.usage)
                    elif event.type == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                        _merge_usage(usage, event.usage)
                    elif event.type == "message_stop":
                        saw_stop = True
        except anthropic.APIError as exc:
            raise classify(exc) from exc
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
        status = exc.status_code
        kind = _error_type(exc)
        message = f"anthropic {status} {kind or ''}: {_error_message(exc)}".replace("  ", " ")
        if status in _RETRYABLE_4XX or status >= 500 or (status == 200 and kind in _RETRYABLE_TYPES):
            return TransientError(message, retry_after=_retry_after(exc.response.headers))
        return PermanentError(message)
    return TransientError(f"anthropic error: {exc}")


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
    for name in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
        value = getattr(usage, name, None)
        if isinstance(value, int):
            into[name] = value


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
