"""LLM providers against recorded HTTP responses (streams, tool use, errors), through their real HTTP clients."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest

from shared.errors import PermanentError, TransientError
from shared.llm import ChatMessage, Completion, Prompt, SystemBlock, TextBlock, TextDelta, Tool, ToolResult, ToolUse
from shared.llm.anthropic import AnthropicProvider
from shared.llm.offline import OFFLINE_MODEL, OfflineProvider
from shared.llm.openai_compat import OpenAICompatibleProvider
from shared.llm.sse import sse_data
from shared.llm.tool_input import INVALID_JSON

RECORDINGS = Path(__file__).parent / "recordings"
PROMPT = Prompt(
    model="claude-sonnet-4-6",
    system=[SystemBlock("You are Maya, a calm sleep coach.", cache=True), SystemBlock("User: Ana.")],
    messages=[ChatMessage("user", "I keep waking up at 3am.")],
    max_tokens=256,
)
TOOL = Tool(
    name="save_analysis",
    description="Save the check-in analysis",
    input_schema={
        "type": "object",
        "properties": {"summary": {"type": "string"}, "focus": {"type": "string"}},
        "required": ["summary", "focus"],
    },
)


def recorded(name: str) -> tuple[int, list[tuple[str, str]], bytes]:
    raw = (RECORDINGS / name).read_bytes()
    head, _, body = raw.partition(b"\n\n")
    status_line, *header_lines = head.decode().splitlines()
    headers = [tuple(h.split(": ", 1)) for h in header_lines]
    return int(status_line.split()[1]), headers, body  # type: ignore[return-value]


class AnthropicReplay:
    """Serves recordings in turn and keeps the requests the provider sent."""

    def __init__(self, *names: str) -> None:
        self.names = list(names)
        self.requests: list[httpx2.Request] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        status, headers, body = recorded(self.names.pop(0))
        return httpx2.Response(status, headers=headers, content=body)

    def provider(self) -> AnthropicProvider:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))
        return AnthropicProvider("sk-ant-test", http_client=client)


async def collect(provider: Any, prompt: Prompt = PROMPT) -> tuple[list[str], Completion]:
    deltas: list[str] = []
    final: Completion | None = None
    async for event in provider.stream(prompt):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        else:
            final = event
    assert final is not None
    return deltas, final


@pytest.fixture(autouse=True)
def _no_anthropic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_CUSTOM_HEADERS"):
        monkeypatch.delenv(name, raising=False)


async def test_anthropic_stream_yields_deltas_then_usage() -> None:
    replay = AnthropicReplay("anthropic_stream_text.http")
    deltas, final = await collect(replay.provider())

    assert deltas == ["Hello", ", world!"]
    assert final.text == "Hello, world!"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (25, 15)
    assert (final.usage.cache_read_tokens, final.usage.cache_write_tokens) == (2048, 512)
    request = replay.requests[0]
    assert (request.method, request.url.path) == ("POST", "/v1/messages")
    # What the SDK itself sends (llm-wire-formats: its key as a bearer token, its API version).
    assert request.headers["authorization"] == "Bearer sk-ant-test"
    sdk_headers = anthropic.AsyncAnthropic(api_key="k").default_headers
    assert request.headers["anthropic-version"] == sdk_headers["anthropic-version"]
    sent = json.loads(request.content)
    assert sent["stream"] is True
    assert sent["system"][0] == {
        "type": "text",
        "text": "You are Maya, a calm sleep coach.",
        "cache_control": {"type": "ephemeral"},
    }
    assert "cache_control" not in sent["system"][1]
    assert sent["messages"] == [{"role": "user", "content": "I keep waking up at 3am."}]


@pytest.mark.parametrize(
    ("recording", "retry_after"),
    [("anthropic_429.http", 0.05), ("anthropic_529.http", None), ("anthropic_500.http", None)],
)
async def test_anthropic_retryable_statuses_are_transient(recording: str, retry_after: float | None) -> None:
    replay = AnthropicReplay(recording)
    with pytest.raises(TransientError) as info:
        await collect(replay.provider())
    assert info.value.retry_after == retry_after
    assert len(replay.requests) == 1  # the provider does not retry: the job layer owns retries


async def test_anthropic_bad_request_is_permanent_with_the_reason() -> None:
    replay = AnthropicReplay("anthropic_400.http")
    with pytest.raises(PermanentError, match="at least one message is required"):
        await collect(replay.provider())


@pytest.mark.parametrize(("status", "should", "transient"), [(500, "false", False), (400, "true", True)])
async def test_anthropic_x_should_retry_overrides_the_status(status: int, should: str, transient: bool) -> None:
    body = json.dumps({"type": "error", "error": {"type": "api_error", "message": "Told so"}}).encode()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, headers={"x-should-retry": should}, content=body)

    provider = AnthropicProvider("sk-ant-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    with pytest.raises(TransientError if transient else PermanentError, match="Told so"):
        await collect(provider)


async def test_anthropic_overload_inside_the_stream_is_transient() -> None:
    replay = AnthropicReplay("anthropic_stream_overloaded.http")
    with pytest.raises(TransientError, match="overloaded_error"):
        await collect(replay.provider())


async def test_anthropic_stream_cut_before_message_stop_is_transient() -> None:
    replay = AnthropicReplay("anthropic_stream_truncated.http")
    with pytest.raises(TransientError, match="message_stop"):
        await collect(replay.provider())


async def test_anthropic_tool_use_returns_structured_input() -> None:
    replay = AnthropicReplay("anthropic_tool_use.http")
    completion = await replay.provider().complete(PROMPT, TOOL)
    assert completion.tool_input == {"summary": "Sleep improved", "focus": "evening routine"}
    assert completion.stop_reason == "tool_use"
    assert (completion.model, completion.text) == ("claude-sonnet-4-6", "")
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (120, 30)
    sent = json.loads(replay.requests[0].content)
    assert sent["tool_choice"] == {"type": "tool", "name": "save_analysis"}
    assert sent["tools"][0]["input_schema"]["required"] == ["summary", "focus"]


async def test_anthropic_complete_waits_for_a_long_message_as_long_as_it_may_take() -> None:
    """Not streamed, nothing arrives until the message is whole: 64,000 tokens may take half an hour."""
    replay = AnthropicReplay("anthropic_tool_use.http", "anthropic_tool_use.http")
    provider = replay.provider()
    await provider.complete(PROMPT, TOOL)
    await provider.complete(replace(PROMPT, max_tokens=64_000), TOOL)
    reads = [request.extensions["timeout"]["read"] for request in replay.requests]
    assert reads == [120.0, 1800.0]


async def test_anthropic_complete_raises_as_the_stream_does() -> None:
    replay = AnthropicReplay("anthropic_429.http", "anthropic_400.http")
    provider = replay.provider()
    with pytest.raises(TransientError) as limited:
        await provider.complete(PROMPT, TOOL)
    assert limited.value.retry_after is not None
    with pytest.raises(PermanentError):
        await provider.complete(PROMPT, TOOL)


async def test_anthropic_complete_refuses_a_body_that_is_not_a_message() -> None:
    def answer(body: bytes) -> AnthropicProvider:
        handler = lambda _: httpx2.Response(200, headers={"content-type": "application/json"}, content=body)  # noqa: E731
        return AnthropicProvider("sk-ant-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))

    with pytest.raises(TransientError, match="not JSON"):
        await answer(b"<html>bad gateway</html>").complete(PROMPT, TOOL)
    with pytest.raises(TransientError, match="other than a message"):
        await answer(b'{"type": "error"}').complete(PROMPT, TOOL)


async def test_anthropic_unreachable_is_transient() -> None:
    provider = AnthropicProvider("sk-ant-test", base_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(TransientError, match="unreachable"):
        await collect(provider)
    await provider.aclose()


def openai_provider(*names: str) -> tuple[OpenAICompatibleProvider, list[httpx.Request]]:
    queue, seen = list(names), []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, headers, body = recorded(queue.pop(0))
        return httpx.Response(status, headers=headers, content=body)

    provider = OpenAICompatibleProvider("http://models.local/v1", "k", transport=httpx.MockTransport(handler))
    return provider, seen


async def test_openai_compatible_stream() -> None:
    provider, seen = openai_provider("openai_stream.http")
    deltas, final = await collect(provider)
    assert deltas == ["Hello", " there"]
    assert (final.text, final.model, final.stop_reason) == ("Hello there", "llama3.2", "end_turn")  # from "stop"
    assert final.tool_calls == ()
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 4)
    sent = json.loads(seen[0].content)
    assert sent["messages"][0]["role"] == "system"
    assert "tools" not in sent
    assert str(seen[0].url) == "http://models.local/v1/chat/completions"


async def test_openai_compatible_tool_call_and_errors() -> None:
    provider, _ = openai_provider("openai_tool_call.http", "openai_404.http", "openai_429.http")
    completion = await provider.complete(PROMPT, TOOL)
    assert completion.tool_input == {"summary": "Sleep improved", "focus": "evening routine"}
    with pytest.raises(PermanentError, match="model 'nope' not found"):
        await provider.complete(PROMPT)
    with pytest.raises(TransientError) as info:
        await provider.complete(PROMPT)
    assert info.value.retry_after == 2.0


async def test_offline_provider_is_deterministic_and_labelled() -> None:
    provider = OfflineProvider(chunk_delay=0)
    deltas, final = await collect(provider)
    again = await collect(provider)
    assert "".join(deltas) == final.text == again[1].text
    assert final.model == OFFLINE_MODEL
    assert final.text.startswith("[offline coach")
    assert "I keep waking up at 3am." in final.text
    assert "I'm Maya, a calm sleep coach." in final.text  # the system prompt's "You are …", said to the user
    assert "You are" not in final.text
    structured = await provider.complete(PROMPT, TOOL)
    assert set(structured.tool_input or {}) == {"summary", "focus"}


def _stream_of(*events: str) -> AnthropicProvider:
    """A 200 event stream made of `events` (data lines), for errors no recording holds."""
    body = "".join(f"data: {event}\n\n" for event in events).encode()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return AnthropicProvider("sk-ant-test", http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))


async def test_anthropic_error_event_of_a_kind_not_worth_retrying_is_permanent() -> None:
    start = '{"type":"message_start","message":{"model":"claude-sonnet-4-6","usage":{"input_tokens":3}}}'
    error = '{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long"}}'
    with pytest.raises(PermanentError, match="invalid_request_error: prompt is too long"):
        await collect(_stream_of(start, error))


async def test_anthropic_event_that_is_not_json_is_transient() -> None:
    with pytest.raises(TransientError, match="not JSON"):
        await collect(_stream_of('{"type":"message_start"', "{}"))


async def test_sse_data_joins_an_events_lines_and_keeps_a_cut_last_event() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ["event: ping", 'data: {"a":', "data:1}", "", ": comment", "", "data: tail"]:
            yield line

    assert [data async for data in sse_data(lines())] == ['{"a":\n1}', "tail"]


# --- Tools: offered in `stream`, called (in parallel), answered in the next request ---------------------

PLAN_TOOLS = (
    Tool(
        name="add_plan_item",
        description="Add an item to the user's plan for a day",
        input_schema={
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "notes": {"type": "string"},
                "priority": {"type": "string", "enum": ["low", "medium", "high", "urgent"]},
            },
            "required": ["title"],
        },
    ),
    Tool(
        name="list_goals",
        description="The user's active goals",
        input_schema={"type": "object", "properties": {}},
    ),
)
WALK = ToolUse("toolu_01Hq7XbWcN3kE2mR9sT4vYpL", "add_plan_item", {"title": "20-minute walk after lunch"})
LIGHTS = ToolUse("toolu_01Vd8KfZpQ2sN6wJ3xRt5mGa", "add_plan_item", {"title": "Lights out by 22:30"})
# The step after the model called two tools: one call worked, one failed, and the user added a line.
FOLLOW_UP = Prompt(
    model="claude-sonnet-4-6",
    system=[SystemBlock("You are Maya, a calm sleep coach.", cache=True)],
    messages=[
        ChatMessage("user", "Plan my day around better sleep."),
        ChatMessage("assistant", (TextBlock("I'll add both to today's plan."), WALK, LIGHTS)),
        ChatMessage(
            "user",
            (
                ToolResult(WALK.id, '{"id": "7d2c", "position": 1}'),
                ToolResult(LIGHTS.id, "a plan item's title must be unique for the day", is_error=True),
                TextBlock("Also, what were my goals again?"),
            ),
        ),
    ],
    max_tokens=256,
    tools=PLAN_TOOLS,
)


def tool_stream(*pieces: str, stop_reason: str = "tool_use") -> list[str]:
    """An Anthropic event stream (data lines) with one tool_use block whose input arrives as `pieces`."""
    block = {"type": "tool_use", "id": "toolu_01Edge", "name": "add_plan_item", "input": {}}
    return [
        '{"type":"message_start","message":{"model":"claude-sonnet-4-6","usage":{"input_tokens":9}}}',
        json.dumps({"type": "content_block_start", "index": 0, "content_block": block}),
        *(
            json.dumps(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": p}}
            )
            for p in pieces
        ),
        '{"type":"content_block_stop","index":0}',
        json.dumps({"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": 5}}),
        '{"type":"message_stop"}',
    ]


async def test_anthropic_stream_offers_tools_and_returns_parallel_calls_in_block_order() -> None:
    replay = AnthropicReplay("anthropic_stream_tool_use.http")
    prompt = replace(PROMPT, tools=PLAN_TOOLS)
    deltas, final = await collect(replay.provider(), prompt)

    assert deltas == ["I'll add both", " to today's plan."]
    assert final.text == "I'll add both to today's plan."
    assert final.stop_reason == "tool_use"
    assert final.tool_calls == (
        ToolUse(WALK.id, "add_plan_item", {"title": "20-minute walk after lunch", "priority": "high"}),
        ToolUse(
            LIGHTS.id,
            "add_plan_item",
            {"title": "Lights out by 22:30", "notes": "No screens after 22:00 — read instead"},
        ),
    )
    assert final.tool_input is None
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_tokens) == (812, 96, 1536)
    sent = json.loads(replay.requests[0].content)
    assert sent["tools"] == [
        {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in PLAN_TOOLS
    ]
    assert sent["tool_choice"] == {"type": "auto"}


async def test_anthropic_stream_without_tools_sends_none() -> None:
    replay = AnthropicReplay("anthropic_stream_text.http")
    _, final = await collect(replay.provider())
    assert final.tool_calls == ()
    sent = json.loads(replay.requests[0].content)
    assert "tools" not in sent and "tool_choice" not in sent


async def test_anthropic_tool_input_cut_short_by_max_tokens_is_marked_invalid() -> None:
    _, final = await collect(AnthropicReplay("anthropic_stream_tool_use_cut.http").provider(), FOLLOW_UP)
    assert final.stop_reason == "max_tokens"
    assert final.tool_calls == (
        ToolUse(
            "toolu_01Nc4TgS8wXe1LqZ5oPk3RfJ",
            "add_plan_item",
            {INVALID_JSON: '{"title": "Stretch for ten minutes", "notes": "Neck and sh'},
        ),
    )


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        ((), {}),  # a tool without parameters may send no piece at all
        (("",), {}),
        (('{"title": ', '"Walk"}'), {"title": "Walk"}),
        (("[1, ", "2]"), {INVALID_JSON: "[1, 2]"}),  # JSON, but not an object
        (('"walk"',), {INVALID_JSON: '"walk"'}),
        (('{"title": "Walk"', "}}"), {INVALID_JSON: '{"title": "Walk"}}'}),
        (('{"minutes": NaN}',), {INVALID_JSON: '{"minutes": NaN}'}),  # Python reads NaN; jsonb does not
        (('{"minutes": 1e400}',), {INVALID_JSON: '{"minutes": 1e400}'}),  # Python reads inf; JSON cannot say it
        (('{"title": "a\\u0000b"}',), {INVALID_JSON: '{"title": "a\\u0000b"}'}),  # NUL: Postgres refuses it
        (('{"title": "\\ud83d"}',), {INVALID_JSON: '{"title": "\\ud83d"}'}),  # a lone surrogate
        (("{\x00",), {INVALID_JSON: "{\ufffd"}),  # the raw text is kept storable too
        (("[" * 100_000,), {INVALID_JSON: "[" * 2000}),  # deeper than the parser goes; at most 2,000 chars
    ],
)
async def test_anthropic_tool_input_that_is_no_usable_object_never_crashes(
    pieces: tuple[str, ...], expected: dict[str, Any]
) -> None:
    _, final = await collect(_stream_of(*tool_stream(*pieces)))
    assert final.tool_calls == (ToolUse("toolu_01Edge", "add_plan_item", expected),)


async def test_anthropic_follow_up_sends_calls_and_results_as_blocks() -> None:
    replay = AnthropicReplay("anthropic_stream_text.http", "anthropic_tool_use.http")
    provider = replay.provider()
    await collect(provider, FOLLOW_UP)
    await provider.complete(FOLLOW_UP, TOOL)  # structured output over the same history

    expected = [
        {"role": "user", "content": "Plan my day around better sleep."},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll add both to today's plan."},
                {"type": "tool_use", "id": WALK.id, "name": "add_plan_item", "input": WALK.input},
                {"type": "tool_use", "id": LIGHTS.id, "name": "add_plan_item", "input": LIGHTS.input},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": WALK.id, "content": '{"id": "7d2c", "position": 1}'},
                {
                    "type": "tool_result",
                    "tool_use_id": LIGHTS.id,
                    "content": "a plan item's title must be unique for the day",
                    "is_error": True,
                },
                {"type": "text", "text": "Also, what were my goals again?"},
            ],
        },
    ]
    streamed, structured = (json.loads(r.content) for r in replay.requests)
    assert streamed["messages"] == expected
    assert structured["messages"] == expected
    assert structured["tool_choice"] == {"type": "tool", "name": "save_analysis"}


async def test_anthropic_blocks_the_api_would_refuse_are_left_out_or_moved() -> None:
    """Empty text is left out; a user turn's tool results go before its text (the API wants them first)."""
    replay = AnthropicReplay("anthropic_stream_text.http")
    invalid = ToolUse("toolu_01Bad", "add_plan_item", {INVALID_JSON: '{"title": "Walk'})
    prompt = replace(
        FOLLOW_UP,
        messages=[
            ChatMessage("user", "Plan my day."),
            ChatMessage("assistant", (TextBlock(""), invalid)),
            ChatMessage("user", (TextBlock("Thanks."), ToolResult(invalid.id, "input is not JSON", is_error=True))),
        ],
    )
    await collect(replay.provider(), prompt)
    assert json.loads(replay.requests[0].content)["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", **asdict(invalid)}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": invalid.id, "content": "input is not JSON", "is_error": True},
                {"type": "text", "text": "Thanks."},
            ],
        },
    ]


def _openai_stream_of(*chunks: dict[str, Any]) -> tuple[OpenAICompatibleProvider, list[httpx.Request]]:
    """A Chat Completions stream of `chunks` then [DONE], for server quirks no recording holds."""
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())

    return OpenAICompatibleProvider("http://models.local/v1", "k", transport=httpx.MockTransport(handler)), seen


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"model": "llama3.2", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


async def test_openai_compatible_stream_joins_tool_call_pieces_per_index() -> None:
    provider, seen = openai_provider("openai_stream_tool_calls.http")
    deltas, final = await collect(provider, replace(PROMPT, tools=PLAN_TOOLS))

    assert deltas == ["Adding both", " now."]
    assert (final.text, final.model, final.stop_reason) == ("Adding both now.", "gpt-4.1-mini-2025-04-14", "tool_use")
    assert final.tool_calls == (
        ToolUse(
            "call_Xq3F8mYzKp2LwR7vB1nT6dHs",
            "add_plan_item",
            {"title": "20-minute walk after lunch", "priority": "high"},
        ),
        ToolUse(
            "call_Rb9JtN4cWs6QeA2zM8kLy5Vg",
            "add_plan_item",
            {"title": "Lights out by 22:30", "notes": "No screens after 22:00 — read instead"},
        ),
    )
    # prompt_tokens (734) counts the 512 cached ones too: each is priced once, as the cached ones.
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_tokens) == (222, 61, 512)
    sent = json.loads(seen[0].content)
    assert sent["tools"] == [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}
        for t in PLAN_TOOLS
    ]
    assert "tool_choice" not in sent  # "auto" is the default when tools are sent
    assert sent["stream_options"] == {"include_usage": True}


async def test_openai_compatible_parallel_calls_all_at_index_0_stay_apart() -> None:
    """Ollama sends each parallel call whole, every one at index 0 (ollama/ollama#15457)."""

    def whole(call_id: str, title: str) -> dict[str, Any]:
        function = {"name": "add_plan_item", "arguments": json.dumps({"title": title})}
        return _chunk({"tool_calls": [{"id": call_id, "index": 0, "type": "function", "function": function}]})

    provider, _ = _openai_stream_of(
        _chunk({"role": "assistant", "content": ""}),
        whole("call_a1b2c3d4", "Walk"),
        whole("call_e5f6g7h8", "Read"),
        _chunk({}, "tool_calls"),
    )
    _, final = await collect(provider, replace(PROMPT, tools=PLAN_TOOLS))
    assert [(c.id, c.input) for c in final.tool_calls] == [
        ("call_a1b2c3d4", {"title": "Walk"}),
        ("call_e5f6g7h8", {"title": "Read"}),
    ]


async def test_openai_compatible_call_ids_are_unique_in_the_conversation() -> None:
    """A missing id, or one the conversation already holds (llama.cpp repeats one id), is replaced."""

    def call(index: int, call_id: str | None, title: str) -> dict[str, Any]:
        piece: dict[str, Any] = {
            "index": index,
            "function": {"name": "add_plan_item", "arguments": json.dumps({"title": title})},
        }
        if call_id is not None:
            piece["id"] = call_id
        return _chunk({"tool_calls": [piece]})

    provider, _ = _openai_stream_of(
        call(0, WALK.id, "Walk"),
        call(1, "call_same", "Read"),
        call(2, "call_same", "Nap"),
        call(3, None, "Tea"),
        _chunk({}, "tool_calls"),
    )
    _, final = await collect(provider, FOLLOW_UP)  # FOLLOW_UP already holds WALK.id
    ids = [c.id for c in final.tool_calls]
    assert [c.input["title"] for c in final.tool_calls] == ["Walk", "Read", "Nap", "Tea"]
    assert ids[1] == "call_same"
    assert len(set(ids)) == 4 and WALK.id not in ids
    assert all(re.fullmatch("[A-Za-z0-9]{9}", i) for i in (ids[0], ids[2], ids[3]))


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (['{"title": "Wal', "k"], {INVALID_JSON: '{"title": "Walk'}),
        (["[]"], {INVALID_JSON: "[]"}),
        ([""], {}),
        ([], {}),
    ],
)
async def test_openai_compatible_arguments_that_are_no_object_are_marked_invalid(
    arguments: list[str], expected: dict[str, Any]
) -> None:
    first = {"index": 0, "id": "call_x", "type": "function", "function": {"name": "list_goals", "arguments": ""}}
    pieces = [_chunk({"tool_calls": [{"index": 0, "function": {"arguments": a}}]}) for a in arguments]
    provider, _ = _openai_stream_of(_chunk({"tool_calls": [first]}), *pieces, _chunk({}, "tool_calls"))
    _, final = await collect(provider, replace(PROMPT, tools=PLAN_TOOLS))
    assert final.tool_calls == (ToolUse("call_x", "list_goals", expected),)


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("eos", "eos"),
    ],
)
async def test_openai_compatible_finish_reasons_read_as_stop_reasons(finish: str, expected: str) -> None:
    provider, _ = _openai_stream_of(_chunk({"content": "Hi"}), _chunk({}, finish))
    _, final = await collect(provider)
    assert final.stop_reason == expected


def _openai_answer(status: int, content: bytes) -> OpenAICompatibleProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"content-type": "application/json"}, content=content)

    return OpenAICompatibleProvider("http://models.local/v1", "k", transport=httpx.MockTransport(handler))


async def test_openai_compatible_complete_marks_arguments_that_are_no_object_and_reads_the_finish() -> None:
    """Marked, not refused: structured output then re-asks once, and keeps the call's usage."""
    call = {"id": "call_x", "type": "function", "function": {"name": TOOL.name, "arguments": '{"summary": "cut'}}
    answer = {
        "model": "gpt-4.1-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                     "finish_reason": "length"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 9},
    }  # fmt: skip
    completion = await _openai_answer(200, json.dumps(answer).encode()).complete(PROMPT, TOOL)
    assert completion.tool_input == {"_invalid_json": '{"summary": "cut'}
    assert (completion.stop_reason, completion.usage.input_tokens) == ("max_tokens", 50)


async def test_openai_compatible_complete_answer_that_is_not_json_is_transient() -> None:
    with pytest.raises(TransientError, match="not JSON"):
        await _openai_answer(200, b"<html>502 Bad Gateway</html>").complete(PROMPT)


async def test_openai_compatible_stream_cut_after_its_finish_before_the_usage_is_transient() -> None:
    """With include_usage the usage chunk and [DONE] follow the finish: without them the turn is not whole,
    and accepting it would bill it as 0 tokens."""
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in (_chunk({"content": "Hi"}), _chunk({}, "stop")))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())

    provider = OpenAICompatibleProvider("http://models.local/v1", "k", transport=httpx.MockTransport(handler))
    with pytest.raises(TransientError, match="before \\[DONE\\]"):
        await collect(provider)


async def test_openai_compatible_calls_ended_with_stop_read_as_tool_use() -> None:
    """Some servers end a turn of tool calls with finish_reason "stop"; there are calls to answer."""
    first = {"index": 0, "id": "call_x", "function": {"name": "list_goals", "arguments": "{}"}}
    provider, _ = _openai_stream_of(_chunk({"tool_calls": [first]}), _chunk({}, "stop"))
    _, final = await collect(provider, replace(PROMPT, tools=PLAN_TOOLS))
    assert (final.stop_reason, len(final.tool_calls)) == ("tool_use", 1)


async def test_openai_compatible_follow_up_sends_tool_calls_and_tool_messages() -> None:
    provider, seen = openai_provider("openai_stream.http", "openai_tool_call.http")
    await collect(provider, FOLLOW_UP)
    await provider.complete(FOLLOW_UP, TOOL)  # structured output over the same history

    expected = [
        {"role": "system", "content": "You are Maya, a calm sleep coach."},
        {"role": "user", "content": "Plan my day around better sleep."},
        {
            "role": "assistant",
            "content": "I'll add both to today's plan.",
            "tool_calls": [
                {
                    "id": WALK.id,
                    "type": "function",
                    "function": {"name": "add_plan_item", "arguments": '{"title": "20-minute walk after lunch"}'},
                },
                {
                    "id": LIGHTS.id,
                    "type": "function",
                    "function": {"name": "add_plan_item", "arguments": '{"title": "Lights out by 22:30"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": WALK.id, "content": '{"id": "7d2c", "position": 1}'},
        {"role": "tool", "tool_call_id": LIGHTS.id, "content": "a plan item's title must be unique for the day"},
        {"role": "user", "content": "Also, what were my goals again?"},
    ]
    streamed, structured = (json.loads(r.content) for r in seen)
    assert streamed["messages"] == expected
    assert structured["messages"] == expected
    assert structured["tool_choice"] == {"type": "function", "function": {"name": "save_analysis"}}


async def test_openai_compatible_turn_of_calls_without_text_sends_null_content() -> None:
    provider, seen = openai_provider("openai_stream.http")
    prompt = replace(
        FOLLOW_UP,
        messages=[
            ChatMessage("user", "Plan my day."),
            ChatMessage("assistant", (WALK,)),
            ChatMessage("user", (ToolResult(WALK.id, "{}"),)),
        ],
    )
    await collect(provider, prompt)
    assert json.loads(seen[0].content)["messages"][2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": WALK.id,
                    "type": "function",
                    "function": {"name": "add_plan_item", "arguments": json.dumps(WALK.input)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": WALK.id, "content": "{}"},
    ]


async def test_offline_provider_calls_no_tools_and_says_so() -> None:
    provider = OfflineProvider(chunk_delay=0)
    deltas, final = await collect(provider, FOLLOW_UP)  # tools offered, and a real model's calls in history
    assert final.tool_calls == ()
    assert final.stop_reason == "end_turn"
    assert "".join(deltas) == final.text
    assert final.text.startswith("[offline coach")
    assert "can't use tools without a language model" in final.text
    assert "nothing was added to a plan" in final.text
    assert "Also, what were my goals again?" in final.text  # the user's words, not a tool result
    # The usage estimate counts the calls and results too.
    without_blocks = replace(FOLLOW_UP, messages=[FOLLOW_UP.messages[0]])
    assert final.usage.input_tokens > (await collect(provider, without_blocks))[1].usage.input_tokens + 20

    _, plain = await collect(provider, replace(FOLLOW_UP, tools=()))
    assert "tools" not in plain.text
    results_only = replace(
        FOLLOW_UP, messages=[*FOLLOW_UP.messages[:2], ChatMessage("user", (ToolResult(WALK.id, "{}"),))]
    )
    _, after_results = await collect(provider, results_only)
    assert "Plan my day around better sleep." in after_results.text  # the last words the user wrote
    structured = await provider.complete(FOLLOW_UP, TOOL)
    assert set(structured.tool_input or {}) == {"summary", "focus"}
    assert structured.tool_calls == ()
