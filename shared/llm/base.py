"""The provider-neutral LLM interface: prompts in, streamed text, tool calls and usage out.

A conversation turn's content is plain text, or blocks when tools are in play: an assistant turn that
called tools holds its text and `ToolUse` blocks, and the user turn after it holds one `ToolResult` per
call (the Messages API refuses a tool call without its result right after it). A user turn may also
carry `ImageBlock`s (image input, e.g. a photo of handwritten notes).
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class SystemBlock:
    """A piece of the system prompt; `cache` marks the end of a stable, cacheable prefix."""

    text: str
    cache: bool = False


@dataclass(frozen=True)
class TextBlock:
    text: str


@dataclass(frozen=True)
class ToolUse:
    """A call the model made: its id (unique in the conversation), the tool's name and its input.

    `input` is the parsed JSON object; input that was not a JSON object arrives as
    `{"_invalid_json": "<what the model sent>"}`, which no tool schema accepts."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class ToolResult:
    """The answer to one call, sent back in the user turn that follows it; `content` is text (JSON)."""

    tool_use_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class ImageBlock:
    """An image in a user turn (image input): its bytes and MIME type (image/jpeg, png, gif or webp)."""

    media_type: str
    data: bytes

    def base64(self) -> str:
        return b64encode(self.data).decode("ascii")


Block = TextBlock | ToolUse | ToolResult | ImageBlock


@dataclass(frozen=True)
class ChatMessage:
    """One turn: plain text, or blocks (assistant: text and tool calls; user: tool results and text)."""

    role: Literal["user", "assistant"]
    content: str | tuple[Block, ...]

    @property
    def text(self) -> str:
        """The turn's text, without tool calls or results."""
        if isinstance(self.content, str):
            return self.content
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))


@dataclass(frozen=True)
class Tool:
    """A tool: for structured output the model is made to call it; for agents it is offered (JSON Schema
    for its input)."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class Prompt:
    model: str
    messages: list[ChatMessage]
    system: list[SystemBlock] = field(default_factory=list)
    max_tokens: int = 1024
    temperature: float | None = None
    # Offered to the model by `stream` (it may call any, several at once, or none).
    tools: tuple[Tool, ...] = ()


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    usage: Usage
    stop_reason: str | None = None  # "tool_use" when the turn ends with tool calls to answer
    tool_input: dict[str, Any] | None = None  # `complete(prompt, tool)`: the input of the required tool
    tool_calls: tuple[ToolUse, ...] = ()  # `stream` with tools: the calls of this turn, in order


@dataclass(frozen=True)
class TextDelta:
    text: str


StreamEvent = TextDelta | Completion


class LLMProvider(Protocol):
    """What workers need from a model. Errors are `TransientError` or `PermanentError`."""

    name: str

    def stream(self, prompt: Prompt) -> AsyncIterator[StreamEvent]:
        """Yield text deltas as they arrive, then exactly one `Completion` (with the tool calls, if any)."""
        ...

    async def complete(self, prompt: Prompt, tool: Tool | None = None) -> Completion:
        """One non-streamed answer; with `tool`, the model is made to call it (structured output)."""
        ...

    async def aclose(self) -> None: ...
