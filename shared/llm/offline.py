"""The offline provider: no model, no key, no network — and it says so.

Used when no LLM key is configured so that `make dev` works on any machine. Replies are deterministic,
built from the coach's introduction (the system prompt's first sentence, in the first person) and the
user's own words, and every reply is stamped `model = 'offline'` so nobody mistakes it for a real
model's answer. It never calls a tool: when tools are offered, the reply says that nothing was done with
them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from shared.llm.base import (
    ChatMessage,
    Completion,
    Prompt,
    StreamEvent,
    TextBlock,
    TextDelta,
    Tool,
    ToolResult,
    ToolUse,
    Usage,
)

OFFLINE_MODEL = "offline"


class OfflineProvider:
    name = "offline"

    def __init__(self, *, chunk_delay: float = 0.02) -> None:
        self.chunk_delay = chunk_delay

    async def stream(self, prompt: Prompt) -> AsyncIterator[StreamEvent]:
        text = reply_text(prompt)
        for chunk in re.findall(r"\S+\s*", text):
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            yield TextDelta(chunk)
        yield Completion(text=text, model=OFFLINE_MODEL, usage=_usage(prompt, text), stop_reason="end_turn")

    async def complete(self, prompt: Prompt, tool: Tool | None = None) -> Completion:
        text = reply_text(prompt)
        tool_input = example_input(tool.input_schema) if tool is not None else None
        return Completion(
            text="" if tool else text,
            model=OFFLINE_MODEL,
            usage=_usage(prompt, text),
            stop_reason="tool_use" if tool else "end_turn",
            tool_input=tool_input,
        )

    async def aclose(self) -> None:
        return None


# Said whenever tools are offered: the offline coach never calls one, so it must not seem to have acted.
NO_TOOLS = (
    "I can't use tools without a language model, so I haven't added, changed or saved anything for you "
    "(nothing was added to a plan, for example)."
)


def reply_text(prompt: Prompt) -> str:
    # The user's last words: a turn that only carries tool results (from an earlier real model's step)
    # has no text, so the text before it counts.
    last_user = next((m.text for m in reversed(prompt.messages) if m.role == "user" and m.text.strip()), "")
    words = " ".join(last_user.split())
    quoted = words if len(words) <= 160 else words[:157].rstrip() + "…"
    intro = _introduction(prompt.system[0].text) if prompt.system else ""
    parts = [
        "[offline coach — no language model is configured, so this reply is generated locally]",
        intro,
        f'You wrote: "{quoted}".' if quoted else "",
        NO_TOOLS if prompt.tools else "",
        "What feels like the smallest next step you could take on this today?",
    ]
    return " ".join(p for p in parts if p)


def _introduction(system: str) -> str:
    """The coach introducing itself: the system prompt's first sentence, said to the model ("You are Maya,
    a coach …"), turned to the first person ("I'm Maya, a coach …"); any other first sentence is left out."""
    match = re.search(r"(.+?[.!?])(\s|$)", " ".join(system.split()))
    sentence = match.group(1) if match else ""
    spoken = re.sub(r"^(You are|You're)\b", "I'm", sentence)
    return spoken if spoken != sentence and len(spoken) <= 200 else ""


def _usage(prompt: Prompt, text: str) -> Usage:
    """A rough count (words, not tokens) of everything sent, tool calls and results included."""
    words_in = sum(_words(m) for m in prompt.messages) + sum(len(b.text.split()) for b in prompt.system)
    return Usage(input_tokens=words_in, output_tokens=len(text.split()))


def _words(message: ChatMessage) -> int:
    if isinstance(message.content, str):
        return len(message.content.split())
    count = 0
    for block in message.content:
        if isinstance(block, TextBlock):
            count += len(block.text.split())
        elif isinstance(block, ToolUse):
            count += len(block.name.split()) + len(json.dumps(block.input).split())
        elif isinstance(block, ToolResult):
            count += len(block.content.split())
    return count


def example_input(schema: dict[str, Any], label: str = "offline") -> dict[str, Any]:
    """A minimal value that satisfies a JSON schema, so structured-output paths run without a model."""
    value = _value_for(schema, label, "value")
    return value if isinstance(value, dict) else {"value": value}


def _value_for(schema: dict[str, Any], label: str, name: str) -> Any:
    kind = schema.get("type")
    options = schema.get("anyOf")
    if isinstance(options, list) and options:  # an optional field (`X | None`): null is a valid minimum
        if any(isinstance(o, dict) and o.get("type") == "null" for o in options):
            return None
        return _value_for(options[0], label, name)
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {k: _value_for(v, label, k) for k, v in props.items()}
    if kind == "array":
        count = int(schema.get("minItems", 1))  # one unless the schema allows none
        return [_value_for(schema.get("items", {}), f"{label} {i + 1}", name) for i in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return f"[{label}] {name.replace('_', ' ')}"[: int(schema.get("maxLength", 200))]
