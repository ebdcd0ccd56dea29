"""A fake model server over real HTTP, for tests, chaos runs and benchmarks (never production).

It speaks the wire formats the official SDKs parse (see the team reference llm-wire-formats.md): the
Anthropic Messages API at `/v1/messages` (SSE events with `event:` lines, error bodies,
`retry-after-ms`) and OpenAI-compatible Chat Completions at `/v1/chat/completions`. Replies echo the
last user message. Markers in that message script what happens.

Failures, counted per distinct message so that a retry sees the next behaviour:

  [[429]] [[529]] [[500]]  first attempt answers that status (retry-after-ms 50), later ones succeed
  [[400]]                  every attempt answers 400 (a permanent error)
  [[overloaded]]           first attempt streams a little, then an in-stream overloaded_error event
  [[break]]                first attempt's stream is cut before its end
  [[slow]]                 every chunk waits `slow_chunk_seconds` (to kill a worker mid-stream)
  [[timeout]]              first attempt waits `timeout_seconds` before answering
  [[max_tokens]]           every attempt's text stops halfway, with stop_reason max_tokens (OpenAI: length)
  [[refusal]]              every attempt's text stops halfway, with stop_reason refusal (OpenAI: content_filter)

Tool use, when the request offers tools (turns are counted within the reply: how many assistant turns
with tool calls follow the last user text):

  [[call:NAME {json}]]     turn 1 calls NAME with that input (several markers: parallel calls)
  [[then:NAME {json}]]     turn 2 calls it (after turn 1's results)
  [[loop:NAME {json}]]     every turn calls it (the reply never ends by itself)
  [[hold:N]]               the first request of turn N waits `timeout_seconds` (a worker can die in it)
  [[replay:A,B]]           turn 1 is served from the recording `<--recordings>/A.http`, turn 2 from
                           B.http, ...: raw HTTP responses (status line, headers, body)
After the scripted turns the model answers in text, listing the results it got. A request that sends a
tool call without its result right after it is refused with 400, as the Anthropic API refuses it.

Structured output (a request forcing one tool, `tool_choice: {type: tool}`) answers a `tool_use` block
whose input is a minimal valid example of the tool's schema; [[invalid_tool]] makes the first attempt's
input miss every required field, [[invalid_tool_always]] every attempt's; [[replay:A,B]] serves the first
attempt from A.http, a repair from B.http. Images in the request (a document's scan, a video's frames)
are not looked at: `/_requests?full=1` shows what was sent.

The safety classifier (a forced `record_safety_assessment`) answers after `--classifier-ms`, by default
risk "none" with no categories (a fake: it reads only markers, never the text itself), or:

  [[risk:LEVEL]] [[risk:LEVEL:CAT,CAT]]   that risk level and those categories
  [[classifier:NAME]]                     the recording `<--recordings>/NAME.http`
  [[classifier_down]]                     every attempt answers 500 (the rules decide)
  [[classifier_slow]]                     every attempt waits `timeout_seconds` first
  [[classifier_ms:N]]                     this message's classifier answers after N ms

Embeddings (`POST /v1/embeddings`, the OpenAI format): a deterministic bag-of-words vector per input (each
word hashed to a dimension, then normalised), so texts sharing words are near; the size is the request's
`dimensions`, else the number ending the model name (`fake-embed-64`), else 8. [[429]] or [[500]] in an
input answers that status once.

`GET /_requests` lists what was asked (kind, conversation, turn, times; `?full=1` adds the bodies),
`GET /_stats` counts requests, `POST /_reset` forgets everything.

`python -m devtools.fake_llm --port 8765 --ttft-ms 200 --tokens-per-second 60`
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import itertools
import json
import logging
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared.llm.offline import example_input

log = logging.getLogger("devtools.fake_llm")

MARKER = re.compile(r"\[\[([a-z0-9_]+)\]\]")
CALL = re.compile(r"\[\[(call|then|loop):([a-z_][a-z0-9_]*)\s*(\{.*?\})?\]\]", re.S)
HOLD = re.compile(r"\[\[hold:(\d+)\]\]")
REPLAY = re.compile(r"\[\[replay:([A-Za-z0-9_.,-]+)\]\]")
RISK = re.compile(r"\[\[risk:(none|low|elevated|imminent)(?::([a-z_,]+))?\]\]")
CLASSIFIER_MS = re.compile(r"\[\[classifier_ms:(\d+)\]\]")
CLASSIFIER_REPLAY = re.compile(r"\[\[classifier:([A-Za-z0-9_.-]+)\]\]")
CLASSIFIER_TOOL = "record_safety_assessment"
ONCE = {"429", "529", "500", "overloaded", "break", "timeout"}
LOGGED = 20_000  # requests kept for /_requests


@dataclass
class FakeModelConfig:
    ttft_seconds: float = 0.0
    tokens_per_second: float = 0.0  # 0: as fast as possible
    chunk_chars: int = 8
    slow_chunk_seconds: float = 1.0
    timeout_seconds: float = 30.0
    classifier_seconds: float = 0.0
    model: str = "claude-fake-1"
    recordings: Path | None = None
    attempts: Counter[str] = field(default_factory=Counter)
    held: set[str] = field(default_factory=set)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOGGED))
    numbers: Iterator[int] = field(default_factory=itertools.count)


@dataclass(frozen=True)
class Turn:
    """What a request asks of the model, in either wire format."""

    messages: list[dict[str, Any]]  # normalised: role, text, tool_calls [(id, name)], tool_results [id]
    tools: list[dict[str, Any]]
    stream: bool

    @property
    def user_texts(self) -> list[str]:
        return [m["text"] for m in self.messages if m["role"] == "user" and m["text"]]

    @property
    def last_text(self) -> str:
        """The latest user text: what the reply answers (tool results are not user text)."""
        texts = self.user_texts
        return texts[-1] if texts else ""

    @property
    def conversation(self) -> str:
        texts = self.user_texts
        return hashlib.sha256((texts[0] if texts else "").encode()).hexdigest()[:16]

    @property
    def number(self) -> int:
        """1 + the assistant turns with tool calls since the last user text."""
        count = 0
        for message in reversed(self.messages):
            if message["role"] == "user" and message["text"] and not message["tool_results"]:
                break
            if message["role"] == "assistant" and message["tool_calls"]:
                count += 1
        return count + 1

    @property
    def results(self) -> list[str]:
        """The tool results of the last user turn (their content), when it carries some."""
        last = self.messages[-1] if self.messages else {}
        return list(last.get("result_texts") or [])

    def unanswered_call(self) -> str | None:
        """The id of a tool call not answered in the very next message, if any (the API refuses those)."""
        for index, message in enumerate(self.messages):
            if message["role"] != "assistant" or not message["tool_calls"]:
                continue
            answered = set(self.messages[index + 1]["tool_results"]) if index + 1 < len(self.messages) else set()
            for call_id, _ in message["tool_calls"]:
                if call_id not in answered:
                    return str(call_id)
        return None


def _anthropic_turn(body: dict[str, Any]) -> Turn:
    messages = []
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        messages.append(
            {
                "role": message.get("role"),
                "text": " ".join(b.get("text", "") for b in blocks if b.get("type") == "text").strip(),
                "tool_calls": [(b.get("id"), b.get("name")) for b in blocks if b.get("type") == "tool_use"],
                "tool_results": [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"],
                "result_texts": [str(b.get("content")) for b in blocks if b.get("type") == "tool_result"],
            }
        )
    return Turn(messages, list(body.get("tools") or []), bool(body.get("stream")))


def _openai_turn(body: dict[str, Any]) -> Turn:
    messages: list[dict[str, Any]] = []
    for message in body.get("messages") or []:
        role = message.get("role")
        if role == "system":
            continue
        if role == "tool":  # results of one assistant turn arrive as consecutive tool messages: one user turn
            if (
                messages
                and messages[-1]["role"] == "user"
                and messages[-1]["tool_results"]
                and not messages[-1]["text"]
            ):
                messages[-1]["tool_results"].append(message.get("tool_call_id"))
                messages[-1]["result_texts"].append(str(message.get("content")))
            else:
                messages.append(
                    {
                        "role": "user",
                        "text": "",
                        "tool_calls": [],
                        "tool_results": [message.get("tool_call_id")],
                        "result_texts": [str(message.get("content"))],
                    }
                )
            continue
        calls = [(c.get("id"), (c.get("function") or {}).get("name")) for c in message.get("tool_calls") or []]
        content = message.get("content")
        if isinstance(content, list):  # content parts: text and images
            content = " ".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
        messages.append(
            {
                "role": role,
                "text": str(content or "").strip(),
                "tool_calls": calls,
                "tool_results": [],
                "result_texts": [],
            }
        )
    tools = [t.get("function") or {} for t in body.get("tools") or []]
    return Turn(messages, tools, bool(body.get("stream")))


def _calls_for(turn: Turn) -> list[tuple[str, dict[str, Any]]]:
    """The scripted tool calls of this turn: (name, input)."""
    wanted = {1: "call", 2: "then"}.get(turn.number)
    calls = []
    for kind, name, raw in CALL.findall(turn.last_text):
        if kind == "loop" or kind == wanted:
            calls.append((name, json.loads(raw) if raw else {}))
    return calls


CUT_SHORT = {"max_tokens", "refusal"}


def _stop_reason(active: set[str], done: str, *, length: str = "max_tokens", refusal: str = "refusal") -> str:
    """Why a turn without tool calls ended, in the provider's words: the markers that cut it short, or `done`."""
    if "max_tokens" in active:
        return length
    return refusal if "refusal" in active else done


def _final_text(turn: Turn) -> str:
    """The answer after tool results, or the echo of the user's message."""
    if turn.results:
        outcomes = "; ".join(text[:160] for text in turn.results)
        return f"Done: {len(turn.results)} tool result(s): {outcomes}"
    return f"Echo: {CALL.sub('', MARKER.sub('', REPLAY.sub('', HOLD.sub('', turn.last_text)))).strip()}"


def bag_of_words(text: str, size: int) -> list[float]:
    """A unit vector counting the text's words, each hashed to one of `size` dimensions."""
    vector = [0.0] * size
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % size] += 1.0
    norm = sum(x * x for x in vector) ** 0.5 or 1.0
    return [round(x / norm, 6) for x in vector]


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}
    return JSONResponse(body, status_code=status, headers={"request-id": "req_fake", **(headers or {})})


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _data(data: dict[str, Any] | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


def _recorded(path: Path) -> Response:
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n\n")
    status_line, *header_lines = head.decode().splitlines()
    headers = {name: value for name, _, value in (line.partition(": ") for line in header_lines)}
    return Response(body, status_code=int(status_line.split()[1]), headers=headers)


class FakeModel:
    def __init__(self, config: FakeModelConfig) -> None:
        self.config = config

    # -------------------------------------------------------------------------------------------------
    # Anthropic Messages API
    # -------------------------------------------------------------------------------------------------
    async def messages(self, request: Request) -> Response:
        body = await request.json()
        if (body.get("tool_choice") or {}).get("type") == "tool":
            if (body.get("tool_choice") or {}).get("name") == CLASSIFIER_TOOL:
                await self._log("classifier", None, request)
                return await self._classify(body)
            await self._log("structured", None, request)
            return self._structured(body)
        turn = _anthropic_turn(body)
        entry = await self._log("anthropic", turn, request)
        unanswered = turn.unanswered_call()
        if unanswered is not None:
            return _error(
                400,
                "invalid_request_error",
                f"messages: `tool_use` ids were found without `tool_result` blocks immediately after: {unanswered}",
            )
        refused = await self._scripted_failure(turn)
        if refused is not None:
            return refused
        replay = self._replay(turn)
        if replay is not None:
            return replay
        calls = _calls_for(turn) if turn.tools else []
        text = "On it." if calls else _final_text(turn)
        usage_in = max(1, sum(len(json.dumps(m)) for m in body.get("messages") or []) // 4)
        if not turn.stream:
            return JSONResponse(self._message(text, usage_in, len(text) // 4 + 1))
        active = self._active(turn)
        return StreamingResponse(
            self._anthropic_stream(text, calls, usage_in, active, entry), media_type="text/event-stream"
        )

    def _structured(self, body: dict[str, Any]) -> Response:
        texts = _anthropic_turn(body).user_texts
        markers = set(MARKER.findall(" ".join(texts)))
        key = "tool:" + hashlib.sha256((texts[0] if texts else "").encode()).hexdigest()
        self.config.attempts[key] += 1
        choice = body.get("tool_choice") or {}
        tool = next((t for t in body["tools"] if t.get("name") == choice.get("name")), body["tools"][0])
        replay = REPLAY.search(" ".join(texts))
        if replay is not None:
            return self._recording(replay.group(1).split(","), self.config.attempts[key])
        invalid = "invalid_tool_always" in markers or ("invalid_tool" in markers and self.config.attempts[key] == 1)
        tool_input = {} if invalid else example_input(tool.get("input_schema") or {}, "fake")
        message = self._message("", max(1, sum(len(t) for t in texts) // 4), 20)
        message["content"] = [{"type": "tool_use", "id": "toolu_fake", "name": tool["name"], "input": tool_input}]
        message["stop_reason"] = "tool_use"
        return JSONResponse(message)

    async def _classify(self, body: dict[str, Any]) -> Response:
        text = " ".join(_anthropic_turn(body).user_texts)
        answer = await self._classification(text)
        if isinstance(answer, Response):
            return answer
        message = self._message("", max(1, len(text) // 4), 20)
        call = {"type": "tool_use", "id": "toolu_fake_classifier", "name": CLASSIFIER_TOOL, "input": answer}
        message["content"] = [call]
        message["stop_reason"] = "tool_use"
        return JSONResponse(message)

    async def _classification(self, text: str) -> dict[str, Any] | Response:
        """The classifier's tool input for a prompt's text, or the response that replaces it."""
        markers = set(MARKER.findall(text))
        wait = CLASSIFIER_MS.search(text)
        if wait is not None or self.config.classifier_seconds:
            await asyncio.sleep(int(wait.group(1)) / 1000 if wait else self.config.classifier_seconds)
        if "classifier_slow" in markers:
            await asyncio.sleep(self.config.timeout_seconds)
        if "classifier_down" in markers:
            return _error(500, "api_error", "scripted classifier failure")
        replay = CLASSIFIER_REPLAY.search(text)
        if replay is not None:
            path = (self.config.recordings or Path("/nonexistent")) / f"{replay.group(1)}.http"
            return _recorded(path) if path.is_file() else _error(500, "api_error", f"no recording {path.name}")
        risk = RISK.search(text)
        return {
            "risk_level": risk.group(1) if risk else "none",
            "categories": [c for c in (risk.group(2) or "").split(",") if c] if risk else [],
            "rationale": "[fake classifier] scripted" if risk else "[fake classifier] no marker: none",
        }

    async def _openai_forced(self, body: dict[str, Any], name: str) -> Response:
        """A Chat Completions request forcing one function: the classifier, or a minimal valid input."""
        turn = _openai_turn(body)
        text = " ".join(turn.user_texts)
        if name == CLASSIFIER_TOOL:
            answer = await self._classification(text)
            if isinstance(answer, Response):
                return answer
        else:
            tool: dict[str, Any] = next(
                (t for t in body.get("tools") or [] if (t.get("function") or {}).get("name") == name), {}
            )
            answer = example_input((tool.get("function") or {}).get("parameters") or {}, "fake")
        call = {"id": "call_fake", "type": "function", "function": {"name": name, "arguments": json.dumps(answer)}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
        usage = {"prompt_tokens": max(1, len(text) // 4), "completion_tokens": 20}
        completion = {"id": "chatcmpl-fake", "object": "chat.completion", "model": self.config.model}
        return JSONResponse({**completion, "choices": [choice], "usage": usage})

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

    async def _anthropic_stream(
        self,
        text: str,
        calls: list[tuple[str, dict[str, Any]]],
        usage_in: int,
        active: set[str],
        entry: dict[str, Any],
    ) -> AsyncIterator[bytes]:
        start = self._message("", usage_in, 1)
        start["content"], start["stop_reason"] = [], None
        yield _sse("message_start", {"type": "message_start", "message": start})
        yield _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
        if self.config.ttft_seconds:
            await asyncio.sleep(self.config.ttft_seconds)
        async for index, chunk in self._chunks(text, active):
            if chunk is None:  # scripted failure mid-stream
                if "overloaded" in active:
                    yield _sse(
                        "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                    )
                return
            yield _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}},
            )
            del index
        yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
        for position, (name, tool_input) in enumerate(calls, 1):
            block = {"type": "tool_use", "id": f"toolu_fake_{entry['id']}_{position}", "name": name, "input": {}}
            yield _sse(
                "content_block_start", {"type": "content_block_start", "index": position, "content_block": block}
            )
            raw = json.dumps(tool_input)
            for i in range(0, len(raw), 12):  # the input arrives in pieces, as the API sends it
                delta = {"type": "input_json_delta", "partial_json": raw[i : i + 12]}
                yield _sse("content_block_delta", {"type": "content_block_delta", "index": position, "delta": delta})
            yield _sse("content_block_stop", {"type": "content_block_stop", "index": position})
        stop = "tool_use" if calls else _stop_reason(active, "end_turn")
        yield _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": len(text) // 4 + 1},
            },
        )
        entry["finished_at"] = time.time()
        yield _sse("message_stop", {"type": "message_stop"})

    # -------------------------------------------------------------------------------------------------
    # OpenAI-compatible Chat Completions
    # -------------------------------------------------------------------------------------------------
    async def chat_completions(self, request: Request) -> Response:
        body = await request.json()
        forced = ((body.get("tool_choice") or {}) if isinstance(body.get("tool_choice"), dict) else {}).get("function")
        if forced:
            await self._log("classifier" if forced.get("name") == CLASSIFIER_TOOL else "structured", None, request)
            return await self._openai_forced(body, str(forced.get("name")))
        turn = _openai_turn(body)
        entry = await self._log("openai", turn, request)
        unanswered = turn.unanswered_call()
        if unanswered is not None:
            return JSONResponse(
                {
                    "error": {
                        "message": f"tool call {unanswered} has no tool message after it",
                        "type": "invalid_request_error",
                    }
                },
                status_code=400,
            )
        refused = await self._scripted_failure(turn)
        if refused is not None:
            return refused
        replay = self._replay(turn)
        if replay is not None:
            return replay
        calls = _calls_for(turn) if turn.tools else []
        text = "On it." if calls else _final_text(turn)
        if not turn.stream:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            usage = {"prompt_tokens": 10, "completion_tokens": len(text) // 4 + 1}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            completion = {"id": "chatcmpl-fake", "object": "chat.completion", "model": self.config.model}
            return JSONResponse({**completion, "choices": [choice], "usage": usage})
        return StreamingResponse(
            self._openai_stream(text, calls, self._active(turn), entry), media_type="text/event-stream"
        )

    async def _openai_stream(
        self, text: str, calls: list[tuple[str, dict[str, Any]]], active: set[str], entry: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": self.config.model}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return _data({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        yield chunk({"role": "assistant", "content": ""})
        if self.config.ttft_seconds:
            await asyncio.sleep(self.config.ttft_seconds)
        async for _, piece in self._chunks(text, active):
            if piece is None:
                return
            yield chunk({"content": piece})
        for position, (name, tool_input) in enumerate(calls):
            raw = json.dumps(tool_input)
            first = {"index": position, "id": f"call_fake_{entry['id']}_{position}", "type": "function",
                     "function": {"name": name, "arguments": ""}}  # fmt: skip
            yield chunk({"tool_calls": [first]})
            for i in range(0, len(raw), 12):
                yield chunk({"tool_calls": [{"index": position, "function": {"arguments": raw[i : i + 12]}}]})
        yield chunk(
            {}, "tool_calls" if calls else _stop_reason(active, "stop", length="length", refusal="content_filter")
        )
        yield _data({**base, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": len(text) // 4 + 1}})
        entry["finished_at"] = time.time()
        yield _data("[DONE]")

    # -------------------------------------------------------------------------------------------------
    # OpenAI-compatible embeddings
    # -------------------------------------------------------------------------------------------------
    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else [str(t) for t in inputs or []]
        model = str(body.get("model") or "fake-embed")
        await self._log("embeddings", None, request)
        for status in ("429", "500"):
            marked = [t for t in texts if f"[[{status}]]" in t]
            key = "embed:" + hashlib.sha256("".join(marked).encode()).hexdigest()
            if marked and self.config.attempts[key] == 0:
                self.config.attempts[key] += 1
                return JSONResponse({"error": {"message": f"scripted {status}", "type": "server_error"}},
                                    status_code=int(status), headers={"retry-after": "0.05"})  # fmt: skip
        ending = re.search(r"(\d+)$", model)
        size = int(body.get("dimensions") or (ending.group(1) if ending else 8))
        data = [{"object": "embedding", "index": i, "embedding": bag_of_words(t, size)} for i, t in enumerate(texts)]
        usage = sum(len(t.split()) for t in texts)
        return JSONResponse(
            {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": usage, "total_tokens": usage}}
        )

    # -------------------------------------------------------------------------------------------------
    # shared
    # -------------------------------------------------------------------------------------------------
    async def _log(self, kind: str, turn: Turn | None, request: Request) -> dict[str, Any]:
        """Log a request; its body is kept as it came (one object: thousands of requests, each parsed into
        hundreds of objects, would make every full collection of this process scan them all)."""
        body = await request.body()  # read once already, by request.json()
        entry = {
            "id": next(self.config.numbers),
            "kind": kind,
            "conversation": turn.conversation if turn else None,
            "turn": turn.number if turn else None,
            "received_at": time.time(),
            "finished_at": None,
            "body": body,
        }
        self.config.requests.append(entry)
        return entry

    def _active(self, turn: Turn) -> set[str]:
        text = turn.last_text
        markers = set(MARKER.findall(text))
        first = self.config.attempts[hashlib.sha256(text.encode()).hexdigest()] == 1
        return {m for m in markers if m not in ONCE or first}

    async def _scripted_failure(self, turn: Turn) -> Response | None:
        text = turn.last_text
        key = hashlib.sha256(text.encode()).hexdigest()
        if turn.number == 1 and not turn.results:
            self.config.attempts[key] += 1
        for held in HOLD.findall(text):
            hold_key = f"{turn.conversation}:{held}"
            if int(held) == turn.number and hold_key not in self.config.held:
                self.config.held.add(hold_key)
                await asyncio.sleep(self.config.timeout_seconds)
        active = self._active(turn)
        if "timeout" in active:
            await asyncio.sleep(self.config.timeout_seconds)
        for status, kind in (("429", "rate_limit_error"), ("529", "overloaded_error"), ("500", "api_error")):
            if status in active:
                return _error(int(status), kind, f"scripted {status}", {"retry-after-ms": "50"})
        if "400" in active:
            return _error(400, "invalid_request_error", "scripted permanent error")
        return None

    def _replay(self, turn: Turn) -> Response | None:
        match = REPLAY.search(turn.last_text)
        if match is None:
            return None
        return self._recording(match.group(1).split(","), turn.number)

    def _recording(self, names: list[str], number: int) -> Response:
        """The recording for the number-th turn (or attempt) of a [[replay:...]] list."""
        if self.config.recordings is None or number > len(names):
            return _error(500, "api_error", f"no recording for turn {number} (--recordings, [[replay:...]])")
        path = self.config.recordings / f"{names[number - 1]}.http"
        if not path.is_file():
            return _error(500, "api_error", f"no recording {path.name}")
        return _recorded(path)

    async def _chunks(self, text: str, active: set[str]) -> AsyncIterator[tuple[int, str | None]]:
        """The text in chunks at the configured pace; None where a scripted failure cuts the stream."""
        config = self.config
        chunks = [text[i : i + config.chunk_chars] for i in range(0, len(text), config.chunk_chars)]
        per_chunk = (config.chunk_chars / 4) / config.tokens_per_second if config.tokens_per_second else 0.0
        for index, chunk in enumerate(chunks):
            if index and (per_chunk or "slow" in active):
                await asyncio.sleep(config.slow_chunk_seconds if "slow" in active else per_chunk)
            yield index, chunk
            if index == len(chunks) // 2 and ({"overloaded", "break"} & active):
                yield index, None
                return
            if index == len(chunks) // 2 and (CUT_SHORT & active):
                return  # the model stopped here (stop_reason says why)

    async def reset(self, _: Request) -> Response:
        self.config.attempts.clear()
        self.config.held.clear()
        self.config.requests.clear()
        return JSONResponse({"ok": True})

    async def stats(self, _: Request) -> Response:
        return JSONResponse({"requests": sum(self.config.attempts.values()), "logged": len(self.config.requests)})

    async def requests(self, request: Request) -> Response:
        full = request.query_params.get("full") == "1"
        entries = [
            {**e, "body": json.loads(e["body"])} if full else {k: v for k, v in e.items() if k != "body"}
            for e in self.config.requests
        ]
        return JSONResponse(entries)


def create_app(config: FakeModelConfig) -> Starlette:
    fake = FakeModel(config)
    return Starlette(
        routes=[
            Route("/v1/messages", fake.messages, methods=["POST"]),
            Route("/v1/chat/completions", fake.chat_completions, methods=["POST"]),
            Route("/v1/embeddings", fake.embeddings, methods=["POST"]),
            Route("/_reset", fake.reset, methods=["POST"]),
            Route("/_stats", fake.stats, methods=["GET"]),
            Route("/_requests", fake.requests, methods=["GET"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.fake_llm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--ttft-ms", type=float, default=0)
    parser.add_argument("--tokens-per-second", type=float, default=0)
    parser.add_argument("--slow-chunk-seconds", type=float, default=1.0)
    parser.add_argument("--timeout-seconds", type=float, default=30.0, help="how long [[timeout]] and [[hold:N]] stall")
    parser.add_argument("--recordings", type=Path, default=None, help="folder of recordings for [[replay:NAME]]")
    parser.add_argument("--classifier-ms", type=float, default=0, help="how long the safety classifier takes")
    args = parser.parse_args(argv)
    config = FakeModelConfig(
        ttft_seconds=args.ttft_ms / 1000,
        tokens_per_second=args.tokens_per_second,
        slow_chunk_seconds=args.slow_chunk_seconds,
        timeout_seconds=args.timeout_seconds,
        classifier_seconds=args.classifier_ms / 1000,
        recordings=args.recordings,
    )
    app = create_app(config)
    # As the worker and the gateway do (shared/eventloop.py): what exists now lives as long as the process, so
    # it leaves the collector. Otherwise a full collection scans every module's objects for nothing, a pause
    # of up to ~75 ms seen in `bench agent` that its clock (this server's) counts as the pipeline's.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=75)


if __name__ == "__main__":
    main()
