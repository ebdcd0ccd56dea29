"""The provider-neutral LLM interface: prompts in, streamed text and usage out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class SystemBlock:
    """A piece of the system prompt; `cache` marks the end of a stable, cacheable prefix."""

    text: str
    cache: bool = False


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Tool:
    """A tool the model must call to return structured output (JSON Schema for its input)."""

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
    stop_reason: str | None = None
    tool_input: dict[str, Any] | None = None  # set when the model called the requested tool


@dataclass(frozen=True)
class TextDelta:
    text: str


StreamEvent = TextDelta | Completion


class LLMProvider(Protocol):
    """What workers need from a model. Errors are `TransientError` or `PermanentError`."""

    name: str

    def stream(self, prompt: Prompt) -> AsyncIterator[StreamEvent]:
        """Yield text deltas as they arrive, then exactly one `Completion`."""
        ...

    async def complete(self, prompt: Prompt, tool: Tool | None = None) -> Completion:
        """One non-streamed answer; with `tool`, the model is made to call it (structured output)."""
        ...

    async def aclose(self) -> None: ...
