"""Prompt assembly: operator templates rendered with `{{placeholders}}`, history kept within a budget.

The system prompt is ordered for Anthropic prompt caching: first what is stable for a coach and category
(the rendered chat template with persona and guidelines, marked cacheable), then what changes per user
and per turn (profile, memory, conversation summary, today's date).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class ChatPromptSettings:
    model: str
    history_budget_tokens: int = 6000
    history_limit: int = 60  # turns chat_reply_context_v1 returns at most


def with_operator_settings(context: dict[str, Any], settings: ChatPromptSettings) -> ChatPromptSettings:
    """The history budget from internal.settings (reply.history_token_budget) when operators set one."""
    budget = (context.get("settings") or {}).get("reply.history_token_budget")
    if isinstance(budget, int) and budget > 0:
        return replace(settings, history_budget_tokens=budget)
    return settings


def needs_compaction(context: dict[str, Any], settings: ChatPromptSettings) -> bool:
    """True when the turns after the conversation summary no longer fit the reply's history budget."""
    history = context.get("history") or []
    used = sum(estimate_tokens(str(h.get("content") or "")) for h in history)
    return used > settings.history_budget_tokens or len(history) >= settings.history_limit


# Placeholders whose values change per user or per turn: the system prompt is cut before the first one
# so that everything above it (coach, persona, guidelines) is a stable, cacheable prefix.
PER_USER = frozenset(
    {"locale", "display_name", "user_profile", "user_summary", "conversation_summary", "today", "timezone"}
)


def build_chat_prompt(context: dict[str, Any], settings: ChatPromptSettings) -> tuple[Prompt, str]:
    """The reply prompt and the prompt version it used, from `chat_reply_context_v1`'s result."""
    prompt_row = context.get("prompt") or {}
    template = str(prompt_row.get("template") or DEFAULT_CHAT_TEMPLATE)
    values = _chat_values(context)
    system = [b for b in (SystemBlock(render(part, values), cache=cache) for part, cache in _split(template)) if b.text]
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


def _split(template: str) -> list[tuple[str, bool]]:
    """(stable head, cacheable) and (per-user tail) of a template, cut at the line of the first per-user value."""
    first = next((m for m in PLACEHOLDER.finditer(template) if m.group(1) in PER_USER), None)
    if first is None:
        return [(template, True), (ABOUT_THE_USER, False)]
    cut = template.rfind("\n", 0, first.start()) + 1
    return [(template[:cut], True), (template[cut:], False)]


def _chat_values(context: dict[str, Any]) -> dict[str, str]:
    coach = context.get("coach") or {}
    persona = context.get("persona") or {}
    profile = context.get("profile") or {}
    memory = context.get("memory") or {}
    conversation = context.get("conversation") or {}
    timezone = str(profile.get("timezone") or "UTC")
    details = [f"time zone {timezone}", f"language {profile.get('locale') or 'en'}"]
    if profile.get("birth_date"):
        details.append(f"born {profile['birth_date']}")
    return {
        "coach_name": str(coach.get("name") or "your coach"),
        "coach_persona": str(persona.get("template") or coach.get("description") or ""),
        "coach_intro": str(coach.get("intro") or ""),
        "guidelines": _guidelines(context.get("guidelines") or []),
        "category": str((context.get("category") or {}).get("name") or "general wellbeing"),
        "locale": str(profile.get("locale") or "en"),
        "display_name": str(profile.get("display_name") or "the person you coach"),
        "timezone": timezone,
        "today": _today(timezone),
        "user_profile": ", ".join(details) + ".",
        "user_summary": str(memory.get("summary") or "Nothing yet: this is a new person to you."),
        "conversation_summary": str(conversation.get("summary") or "Nothing earlier: the conversation is below."),
    }


ABOUT_THE_USER = (
    "About the person: {{display_name}} ({{user_profile}}) Today is {{today}}.\n"
    "What you remember: {{user_summary}}\nEarlier in this conversation: {{conversation_summary}}"
)

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


def _today(timezone: Any) -> str:
    try:
        zone = ZoneInfo(str(timezone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).strftime("%A %d %B %Y")
