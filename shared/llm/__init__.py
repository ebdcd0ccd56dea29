"""LLM providers behind one Protocol: Anthropic, OpenAI-compatible servers, and an offline fake."""

from __future__ import annotations

from shared.llm.base import (
    Block,
    ChatMessage,
    Completion,
    ImageBlock,
    LLMProvider,
    Prompt,
    StreamEvent,
    SystemBlock,
    TextBlock,
    TextDelta,
    Tool,
    ToolResult,
    ToolUse,
    Usage,
)

__all__ = [
    "Block",
    "ChatMessage",
    "Completion",
    "ImageBlock",
    "LLMProvider",
    "Prompt",
    "StreamEvent",
    "SystemBlock",
    "TextBlock",
    "TextDelta",
    "Tool",
    "ToolResult",
    "ToolUse",
    "Usage",
]
