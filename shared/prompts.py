"""Prompt assembly: operator templates rendered with `{{placeholders}}`, history kept within a budget.

The system prompt is ordered for Anthropic prompt caching: first what is stable for a coach and category
(the rendered chat template with persona and guidelines, marked cacheable), then what changes per user
and per turn (profile, memory, conversation summary, today's date).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.llm.base import ChatMessage, Prompt, SystemBlock

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
        cost = estimate_tokens(message.content)
        if kept and used + cost > budget_tokens:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    while kept and kept[0].role != "user":
        kept.pop(0)
    return _merge_consecutive(kept)


def _merge_consecutive(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Join same-role neighbours (e.g. two user messages in a row after a failed reply)."""
    merged: list[ChatMessage] = []
    for message in messages:
        if merged and merged[-1].role == message.role:
            merged[-1] = ChatMessage(message.role, merged[-1].content + "\n\n" + message.content)
        else:
            merged.append(message)
    return merged


@dataclass(frozen=True)
class ChatPromptSettings:
    model: str
    history_budget_tokens: int = 6000


def build_chat_prompt(context: dict[str, Any], settings: ChatPromptSettings) -> tuple[Prompt, str]:
    """The reply prompt and the prompt version it used, from `chat_reply_context_v1`'s result."""
    coach = context.get("coach") or {}
    prompt_row = context.get("prompt") or {}
    persona_row = context.get("persona") or {}
    stable_values = {
        "coach_name": str(coach.get("name") or "your coach"),
        "coach_persona": render(str(persona_row.get("template") or coach.get("description") or ""), {}),
        "coach_intro": str(coach.get("intro") or ""),
        "guidelines": _guidelines(context.get("guidelines") or []),
        "category": str((context.get("category") or {}).get("name") or ""),
    }
    template = str(prompt_row.get("template") or DEFAULT_CHAT_TEMPLATE)
    system = [SystemBlock(render(template, stable_values), cache=True)]
    about = _about_the_user(context)
    if about:
        system.append(SystemBlock(about))
    history = [
        ChatMessage("assistant" if h.get("role") == "assistant" else "user", str(h.get("content") or ""))
        for h in context.get("history") or []
    ]
    messages = fit_history(history, settings.history_budget_tokens)
    if not messages:  # the history query always includes the message being answered
        messages = [ChatMessage("user", str((context.get("message") or {}).get("content") or ""))]
    prompt = Prompt(
        model=str(prompt_row.get("model") or settings.model),
        system=system,
        messages=messages,
        max_tokens=int(prompt_row.get("max_tokens") or 1024),
        temperature=float(prompt_row["temperature"]) if prompt_row.get("temperature") is not None else None,
    )
    return prompt, str(prompt_row.get("prompt_version") or "builtin.chat_reply@v0")


DEFAULT_CHAT_TEMPLATE = (
    "You are {{coach_name}}, a supportive coach.\n\n{{coach_persona}}\n\n"
    "Guidelines for this conversation:\n{{guidelines}}\n\n"
    "Reply warmly and concisely, in the user's language, and end with one question or small next step."
)


def _guidelines(rows: list[dict[str, Any]]) -> str:
    parts = []
    for row in rows:
        text = str(row.get("guidelines") or "").strip()
        if row.get("avoid"):
            text += f"\nAvoid: {row['avoid']}"
        if row.get("escalation"):
            text += f"\nIf there are signs of risk: {row['escalation']}"
        if text:
            parts.append(f"[{row.get('name') or row.get('slug')}]\n{text}")
    return "\n\n".join(parts) or "No specific guidelines."


def _about_the_user(context: dict[str, Any]) -> str:
    profile = context.get("profile") or {}
    memory = context.get("memory") or {}
    conversation = context.get("conversation") or {}
    lines = []
    if profile.get("display_name"):
        lines.append(f"The user's name: {profile['display_name']}.")
    if profile.get("locale"):
        lines.append(f"Preferred language (BCP 47): {profile['locale']}; answer in the language the user writes in.")
    lines.append(f"Today is {_today(profile.get('timezone'))} in the user's time zone.")
    if memory.get("summary"):
        lines.append(f"What you know about the user:\n{memory['summary']}")
    if conversation.get("summary"):
        lines.append(f"Summary of this conversation's earlier turns:\n{conversation['summary']}")
    return "\n\n".join(lines)


def _today(timezone: Any) -> str:
    try:
        zone = ZoneInfo(str(timezone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).strftime("%A %d %B %Y")
