"""Prompt assembly: operator templates rendered with `{{placeholders}}`, history kept within a budget."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from shared.llm.base import ChatMessage

log = logging.getLogger("shared.prompts")

PLACEHOLDER = re.compile(r"{{\s*([a-z_]+)\s*}}")
# A cheap, conservative token estimate (about 4 characters per token for English text).
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill `{{name}}` placeholders; unknown ones become empty and are logged, never sent literally."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            log.warning("unknown placeholder in a prompt template", extra={"placeholder": name})
            return ""
        return values[name]

    return PLACEHOLDER.sub(fill, template).strip()


def fit_history(history: list[ChatMessage], budget_tokens: int) -> list[ChatMessage]:
    """The latest turns that fit the budget, starting with a user turn (as the Messages API requires)."""
    kept: list[ChatMessage] = []
    used = 0
    for message in reversed(history):
        cost = estimate_tokens(message.text)
        if kept and used + cost > budget_tokens:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    while kept and kept[0].role != "user":
        kept.pop(0)
    return _merge_consecutive(kept)


def _merge_consecutive(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Join same-role text neighbours (e.g. two user messages in a row after a failed reply)."""
    merged: list[ChatMessage] = []
    for message in messages:
        last = merged[-1] if merged else None
        if last is not None and last.role == message.role and isinstance(last.content, str):
            merged[-1] = ChatMessage(message.role, last.content + "\n\n" + message.text)
        else:
            merged.append(message)
    return merged
