"""OpenAI-compatible Chat Completions (OpenAI, Ollama, vLLM, llama.cpp) over plain httpx.

`base_url` includes `/v1` (e.g. http://127.0.0.1:11434/v1 for Ollama). No SDK: the wire format is small
and this keeps local model servers free of an extra dependency.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from shared.errors import PermanentError, TransientError
from shared.http import MODEL_CONNECTIONS
from shared.http import transport as http_transport
from shared.llm.base import Completion, Prompt, StreamEvent, TextDelta, Tool, Usage
from shared.llm.sse import sse_data

log = logging.getLogger("shared.llm.openai")


class OpenAICompatibleProvider:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str = "local",
        *,
        timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout, connect=10.0),
            # aiohttp underneath (shared/http.py) unless a transport is passed in (tests: recorded responses).
            transport=transport or http_transport(MODEL_CONNECTIONS),
        )

    async def stream(self, prompt: Prompt) -> AsyncIterator[StreamEvent]:
        body = {**_request(prompt), "stream": True, "stream_options": {"include_usage": True}}
        parts: list[str] = []
        usage, model, finish = Usage(), prompt.model, None
        try:
            async with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _status_error(response)
                done = False
                async for chunk in _sse_json(response):
                    if chunk is None:
                        done = True
                        break
                    if "error" in chunk:
                        raise TransientError(f"in-stream error: {_error_text(chunk)}")
                    model = chunk.get("model") or model
                    usage = _usage(chunk.get("usage")) or usage
                    for choice in chunk.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content")
                        finish = choice.get("finish_reason") or finish
                        if text:
                            parts.append(text)
                            yield TextDelta(text)
                if not done and finish is None:
                    raise TransientError("the model's stream ended before [DONE]")
        except httpx.TransportError as exc:
            raise TransientError(f"model server unreachable: {exc!r}") from exc
        yield Completion(text="".join(parts), model=model, usage=usage, stop_reason=finish)

    async def complete(self, prompt: Prompt, tool: Tool | None = None) -> Completion:
        body = _request(prompt)
        if tool is not None:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {"name": tool.name, "description": tool.description, "parameters": tool.input_schema},
                }
            ]
            body["tool_choice"] = {"type": "function", "function": {"name": tool.name}}
        try:
            response = await self._client.post("/chat/completions", json=body)
        except httpx.TransportError as exc:
            raise TransientError(f"model server unreachable: {exc!r}") from exc
        if response.status_code >= 400:
            raise _status_error(response)
        data = response.json()
        choice = (data.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        return Completion(
            text=message.get("content") or "",
            model=data.get("model") or prompt.model,
            usage=_usage(data.get("usage")) or Usage(),
            stop_reason=choice.get("finish_reason"),
            tool_input=_tool_input(message),
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _request(prompt: Prompt) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append({"role": "system", "content": "\n\n".join(b.text for b in prompt.system)})
    messages += [{"role": m.role, "content": m.content} for m in prompt.messages]
    body: dict[str, Any] = {"model": prompt.model, "messages": messages, "max_tokens": prompt.max_tokens}
    if prompt.temperature is not None:
        body["temperature"] = prompt.temperature
    return body


async def _sse_json(response: httpx.Response) -> AsyncIterator[dict[str, Any] | None]:
    """Each event's JSON object; `None` for the closing `[DONE]`."""
    async for event in sse_data(response.aiter_lines()):
        data = event.strip()
        if data == "[DONE]":
            yield None
            return
        try:
            yield json.loads(data)
        except json.JSONDecodeError as exc:
            raise TransientError(f"malformed stream chunk: {data[:200]!r}") from exc


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    cached = (raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cache_read_tokens=int(cached),
    )


def _tool_input(message: dict[str, Any]) -> dict[str, Any] | None:
    for call in message.get("tool_calls") or []:
        arguments = (call.get("function") or {}).get("arguments")
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError as exc:
            raise PermanentError(f"tool arguments are not JSON: {str(arguments)[:200]!r}") from exc
        if isinstance(parsed, dict):
            return parsed
    return None


def _error_text(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else body
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _status_error(response: httpx.Response) -> TransientError | PermanentError:
    try:
        detail = _error_text(response.json())
    except ValueError:
        detail = response.text[:200]
    message = f"model server {response.status_code}: {detail}"
    if response.status_code in (408, 409, 429) or response.status_code >= 500:
        retry_after = response.headers.get("retry-after")
        try:
            seconds = float(retry_after) if retry_after else None
        except ValueError:
            seconds = None
        return TransientError(message, retry_after=seconds)
    return PermanentError(message)
