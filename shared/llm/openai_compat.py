"""OpenAI-compatible Chat Completions (OpenAI, Ollama, vLLM, llama.cpp) over plain httpx.

`base_url` includes `/v1` (e.g. http://127.0.0.1:11434/v1 for Ollama). No SDK: the wire format is small
and this keeps local model servers free of an extra dependency.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.errors import PermanentError, TransientError
from shared.http import MODEL_CONNECTIONS
from shared.http import transport as http_transport
from shared.llm.base import (
    ChatMessage,
    Completion,
    ImageBlock,
    Prompt,
    StreamEvent,
    TextDelta,
    Tool,
    ToolResult,
    ToolUse,
    Usage,
)
from shared.llm.sse import sse_data
from shared.llm.tool_input import new_call_id, parse_tool_input

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
        """Text deltas as they arrive, then one Completion (with the turn's tool calls, if any)."""
        body = {**_request(prompt), "stream": True, "stream_options": {"include_usage": True}}
        if prompt.tools:
            body["tools"] = [_tool(t) for t in prompt.tools]  # tool_choice defaults to "auto" with tools
        turn = _Turn(prompt.model)
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
                    text = turn.read(chunk)
                    if text:
                        yield TextDelta(text)
                if not done and (turn.finish is None or turn.usage is None):
                    # Cut before its finish, or after it but before the usage chunk (include_usage):
                    # either way the turn is not whole, and a turn accepted without usage is billed as 0.
                    raise TransientError("the model's stream ended before [DONE]")
        except httpx.TransportError as exc:
            raise TransientError(f"model server unreachable: {exc!r}") from exc
        yield turn.completion(_ids_in(prompt))

    async def complete(self, prompt: Prompt, tool: Tool | None = None) -> Completion:
        body = _request(prompt)
        if tool is not None:
            body["tools"] = [_tool(tool)]
            body["tool_choice"] = {"type": "function", "function": {"name": tool.name}}
        try:
            response = await self._client.post("/chat/completions", json=body)
        except httpx.TransportError as exc:
            raise TransientError(f"model server unreachable: {exc!r}") from exc
        if response.status_code >= 400:
            raise _status_error(response)
        try:
            data = response.json()
        except ValueError as exc:  # a proxy's page, a body cut short
            raise TransientError(f"the model server's answer is not JSON: {response.text[:200]!r}") from exc
        choice = (data.get("choices") or [{}])[0] if isinstance(data, dict) else {}
        message = choice.get("message") or {}
        return Completion(
            text=message.get("content") or "",
            model=data.get("model") or prompt.model,
            usage=_usage(data.get("usage")) or Usage(),
            stop_reason=_stop_reason(choice.get("finish_reason")),
            tool_input=_tool_input(message),
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _request(prompt: Prompt) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append({"role": "system", "content": "\n\n".join(b.text for b in prompt.system)})
    for message in prompt.messages:
        messages += _messages(message)
    body: dict[str, Any] = {"model": prompt.model, "messages": messages, "max_tokens": prompt.max_tokens}
    if prompt.temperature is not None:
        body["temperature"] = prompt.temperature
    return body


def _messages(message: ChatMessage) -> list[dict[str, Any]]:
    """A turn as Chat Completions takes it: plain text stays a string; an assistant turn's tool calls ride
        on its message (`content` null when it said nothing); each tool result is a `tool` message, sent
        before the rest of its turn's text (a user message), as the API wants the results right after the
        calls. `is_error` has no place in this format: the result's content has to say what went wrong. Images
    go as `image_url` content parts with a data URL, after the turn's text."""
    if isinstance(message.content, str):
        return [{"role": message.role, "content": message.content}]
    out: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": b.tool_use_id, "content": b.content}
        for b in message.content
        if isinstance(b, ToolResult)
    ]
    calls = [
        {
            "id": b.id,
            "type": "function",
            "function": {"name": b.name, "arguments": json.dumps(b.input, ensure_ascii=False)},
        }
        for b in message.content
        if isinstance(b, ToolUse)
    ]
    text = message.text
    images = [b for b in message.content if isinstance(b, ImageBlock)]
    if calls:
        out.append({"role": message.role, "content": text or None, "tool_calls": calls})
    elif images:  # pictures go as content parts (data URLs) after the turn's text
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        parts += [{"type": "image_url", "image_url": {"url": _data_url(b)}} for b in images]
        out.append({"role": message.role, "content": parts})
    elif text or not out:
        out.append({"role": message.role, "content": text})
    return out


def _data_url(image: ImageBlock) -> str:
    return f"data:{image.media_type};base64,{base64.b64encode(image.data).decode('ascii')}"


def _tool(tool: Tool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.input_schema},
    }


# finish_reason → the Messages API's stop_reason, so callers see one set of values whatever the provider.
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",  # the deprecated single-function form
    "content_filter": "refusal",
}


def _stop_reason(finish: object) -> str | None:
    """A finish_reason as the Messages API's stop_reason (one it has no word for is kept as it is)."""
    return _STOP_REASONS.get(finish, finish) if isinstance(finish, str) and finish else None


class _Turn:
    """One streamed turn, read chunk by chunk: its text, tool calls, model, finish reason and usage."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.parts: list[str] = []
        self.calls: list[_Call] = []  # in the order they began
        self.by_index: dict[int, _Call] = {}  # the call each `index` currently continues
        self.finish: str | None = None
        self.usage: Usage | None = None  # None until a chunk carries it

    def read(self, chunk: dict[str, Any]) -> str | None:
        """Take in one chunk; returns the text it adds, if any (an in-stream error raises)."""
        if "error" in chunk:
            raise TransientError(f"in-stream error: {_error_text(chunk)}")
        self.model = chunk.get("model") or self.model
        self.usage = _usage(chunk.get("usage")) or self.usage
        added: list[str] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            self.finish = choice.get("finish_reason") or self.finish
            if delta.get("content"):
                added.append(str(delta["content"]))
            for piece in delta.get("tool_calls") or []:
                if isinstance(piece, dict):
                    self._piece(piece)
        self.parts += added
        return "".join(added) or None

    def _piece(self, piece: dict[str, Any]) -> None:
        """A piece of a tool call: the id and name come first, the arguments (JSON text) in pieces.

        Pieces are joined per `index`, except that a piece with a new id and a name, at an index whose
        call already holds whole arguments, begins another call: Ollama sends parallel calls whole, all
        at index 0 (ollama/ollama#15457), and a piece without an index is read as index 0."""
        index = piece["index"] if isinstance(piece.get("index"), int) else 0
        function = piece["function"] if isinstance(piece.get("function"), dict) else {}
        call_id, name = _text(piece.get("id")), _text(function.get("name"))
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send the object itself
            arguments = json.dumps(arguments)
        call = self.by_index.get(index)
        if call is None or (call_id and name and call.id and call_id != call.id and call.whole()):
            call = self.by_index[index] = _Call(call_id, name)
            self.calls.append(call)
        else:
            call.id, call.name = call.id or call_id, call.name or name
        if isinstance(arguments, str) and arguments:
            call.parts.append(arguments)

    def completion(self, ids_in_use: set[str]) -> Completion:
        calls = tuple(call.tool_use(ids_in_use) for call in self.calls)
        reason = _stop_reason(self.finish)
        if calls and reason in (None, "end_turn"):  # some servers end a turn of calls with "stop"
            reason = "tool_use"
        return Completion(
            text="".join(self.parts),
            model=self.model,
            usage=self.usage or Usage(),
            stop_reason=reason,
            tool_calls=calls,
        )


@dataclass
class _Call:
    """A tool call being streamed."""

    id: str
    name: str
    parts: list[str] = field(default_factory=list)

    def whole(self) -> bool:
        """Whether the arguments so far are a complete JSON value (so a new id cannot continue them)."""
        try:
            json.loads("".join(self.parts))
        except ValueError:
            return False
        return True

    def tool_use(self, ids_in_use: set[str]) -> ToolUse:
        """The finished call. Its id is kept unless it is missing or already in the conversation: some
        servers repeat ids across turns or within one (a constant id from llama.cpp, per-turn ids from
        Kimi models), and a tool loop that stores results by call id must never take one call for
        another."""
        call_id = self.id if self.id and self.id not in ids_in_use else new_call_id(ids_in_use)
        ids_in_use.add(call_id)
        return ToolUse(call_id, self.name, parse_tool_input("".join(self.parts) or "{}"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _ids_in(prompt: Prompt) -> set[str]:
    """The tool call ids the conversation already holds."""
    return {
        b.id for m in prompt.messages if not isinstance(m.content, str) for b in m.content if isinstance(b, ToolUse)
    }


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
    # prompt_tokens counts the cached ones too; Usage counts them apart, as the Messages API does (its
    # input_tokens are the uncached ones), so each token is priced once.
    prompt_tokens = int(raw.get("prompt_tokens") or 0)
    cached = min(int((raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0), prompt_tokens)
    return Usage(
        input_tokens=prompt_tokens - cached,
        output_tokens=int(raw.get("completion_tokens") or 0),
        cache_read_tokens=cached,
    )


def _tool_input(message: dict[str, Any]) -> dict[str, Any] | None:
    """The forced tool's input; arguments that are not a JSON object become the `_invalid_json` marker, as
    in a stream, so structured output re-asks once (and the call's usage is kept) instead of failing."""
    for call in message.get("tool_calls") or []:
        arguments = (call.get("function") or {}).get("arguments")
        if isinstance(arguments, dict):
            return arguments
        if isinstance(arguments, str):
            return parse_tool_input(arguments)
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
