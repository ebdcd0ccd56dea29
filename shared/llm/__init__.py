"""LLM providers behind one Protocol: Anthropic, OpenAI-compatible servers, and an offline fake."""

from __future__ import annotations

from shared.llm.base import (
    ChatMessage,
    Completion,
    LLMProvider,
    Prompt,
    StreamEvent,
    SystemBlock,
    TextDelta,
    Tool,
    Usage,
)

__all__ = [
    "ChatMessage",
    "Completion",
    "LLMProvider",
    "Prompt",
    "StreamEvent",
    "SystemBlock",
    "TextDelta",
    "Tool",
    "Usage",
]
