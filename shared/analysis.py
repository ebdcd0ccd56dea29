"""Check-in analysis and recommendations: the structured outputs, their tools, and their prompts."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.llm.base import ChatMessage, Prompt, SystemBlock, Tool
from shared.prompts import render

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Insights(BaseModel):
    model_config = ConfigDict(extra="ignore")

    trend: Literal["improving", "stable", "declining", "first_checkin"]
    themes: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=3
    )
    focus: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    safety_concern: bool = False


class Analysis(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    insights: Insights


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    why: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    how: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    importance: int = Field(ge=1, le=5)


class Recommendations(BaseModel):
    model_config = ConfigDict(extra="ignore")

    recommendations: list[Recommendation] = Field(min_length=1, max_length=5)


def _string(max_length: int, description: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "description": description}


ANALYSIS_TOOL = Tool(
    name="record_analysis",
    description="Record the analysis of the person's check-in.",
    input_schema={
        "type": "object",
        "required": ["summary", "insights"],
        "properties": {
            "summary": _string(4000, "Two or three sentences written to the person."),
            "insights": {
                "type": "object",
                "required": ["trend", "themes", "focus", "safety_concern"],
                "properties": {
                    "trend": {"type": "string", "enum": ["improving", "stable", "declining", "first_checkin"]},
                    "themes": {"type": "array", "items": _string(80, "A short theme."), "maxItems": 3},
                    "focus": _string(300, "The one thing most worth working on next."),
                    "safety_concern": {"type": "boolean"},
                },
            },
        },
    },
)


def recommendations_tool(maximum: int) -> Tool:
    item = {
        "type": "object",
        "required": ["title", "body", "why", "how", "importance"],
        "properties": {
            "title": _string(80, "A short imperative."),
            "body": _string(4000, "What to do, in two or three sentences."),
            "why": _string(2000, "Why this helps them in particular."),
            "how": _string(2000, "The very first small step."),
            "importance": {"type": "integer", "minimum": 1, "maximum": 5},
        },
    }
    return Tool(
        name="record_recommendations",
        description="Record 1 to the maximum number of recommendations, best first.",
        input_schema={
            "type": "object",
            "required": ["recommendations"],
            "properties": {
                "recommendations": {"type": "array", "items": item, "minItems": 1, "maxItems": max(1, min(maximum, 5))}
            },
        },
    )


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def _common(context: dict[str, Any]) -> dict[str, str]:
    guidelines = "\n\n".join(str(g.get("guidelines") or "") for g in context.get("guidelines") or []) or "None."
    profile = context.get("profile") or {}
    return {
        "category": str((context.get("category") or {}).get("name") or ""),
        "guidelines": guidelines,
        "questions": _dump((context.get("category") or {}).get("questions") or []),
        "user_summary": str((context.get("memory") or {}).get("summary") or "Nothing yet."),
        "locale": str(profile.get("locale") or "en"),
        "display_name": str(profile.get("display_name") or "the person"),
    }


def _prompt(context: dict[str, Any], values: dict[str, str], model: str) -> tuple[Prompt, str]:
    row = context.get("prompt") or {}
    if not row.get("template"):
        raise ValueError("no active prompt version is assigned to this job kind (see internal.active_prompts)")
    prompt = Prompt(
        model=str(row.get("model") or model),
        system=[SystemBlock("You are a careful assistant to a wellbeing coach. Answer only by calling the tool.")],
        messages=[ChatMessage("user", render(str(row["template"]), values))],
        max_tokens=int(row.get("max_tokens") or 1024),
    )
    return prompt, str(row.get("prompt_version"))


def analysis_prompt(context: dict[str, Any], model: str) -> tuple[Prompt, str]:
    checkin = context.get("checkin") or {}
    values = _common(context) | {
        "checkin": _dump({k: checkin.get(k) for k in ("level", "answers", "note", "completed_at")}),
        "recent_checkins": _dump(context.get("recent") or []) if context.get("recent") else "None: this is the first.",
    }
    return _prompt(context, values, model)


def recommendations_prompt(context: dict[str, Any], model: str) -> tuple[Prompt, str]:
    checkin = context.get("checkin") or {}
    open_titles = [r["title"] for r in context.get("open_recommendations") or []]
    values = _common(context) | {
        "analysis": _dump({"summary": checkin.get("summary"), "insights": checkin.get("insights")}),
        "open_recommendations": "\n".join(f"- {t}" for t in open_titles) or "None.",
        "max_recommendations": str(context.get("max_recommendations") or 3),
    }
    return _prompt(context, values, model)


class Fact(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    fact: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    source_message_id: str | None = None


class Memory(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=8000)]
    facts: list[Fact] = Field(default_factory=list, max_length=40)


MEMORY_TOOL = Tool(
    name="record_memory",
    description="Record the updated memory of the person: a compact summary and the full list of key facts.",
    input_schema={
        "type": "object",
        "required": ["summary", "facts"],
        "properties": {
            "summary": _string(8000, "At most 150 words, third person."),
            "facts": {
                "type": "array",
                "maxItems": 40,
                "items": {
                    "type": "object",
                    "required": ["fact"],
                    "properties": {
                        "id": {"type": "string", "description": "The id of an existing fact you keep or update."},
                        "fact": _string(500, "One short sentence."),
                        "source_message_id": {"type": "string", "description": "The message it came from."},
                    },
                },
            },
        },
    },
)


def memory_prompt(context: dict[str, Any], model: str) -> tuple[Prompt, str]:
    facts = context.get("facts") or []
    messages = context.get("messages") or []
    values = {
        "current_summary": str(context.get("summary") or "") or "Nothing yet.",
        "current_facts": "\n".join(
            f"- {f.get('id')}: {f.get('fact')} (from {f.get('source_message_id')})" for f in facts
        )
        or "None yet.",
        "forgotten_facts": "\n".join(f"- {f}" for f in context.get("forgotten") or []) or "None.",
        "new_messages": "\n".join(f"[{m['id']}] {m['role']}: {m['content']}" for m in messages) or "None.",
        "recent_checkins": _dump(context.get("checkins") or []) if context.get("checkins") else "None.",
    }
    return _prompt(context, values, model)


def conversation_summary_prompt(context: dict[str, Any], model: str) -> tuple[Prompt, str]:
    turns = context.get("turns") or []
    values = {
        "previous_summary": str(context.get("previous_summary") or "") or "(empty)",
        "turns": "\n".join(f"{t['role']}: {t['content']}" for t in turns),
    }
    prompt, version = _prompt(context, values, model)
    system = [SystemBlock("You write concise, faithful summaries of coaching conversations.")]
    return Prompt(prompt.model, prompt.messages, system, prompt.max_tokens), version


def followup_prompt(context: dict[str, Any], model: str) -> tuple[Prompt, str]:
    checkin = context.get("checkin") or {}
    coach = context.get("coach") or {}
    values = _common(context) | {
        "coach_name": str(coach.get("name") or "your coach"),
        "coach_persona": str((context.get("persona") or {}).get("template") or coach.get("description") or ""),
        "days_since": str(context.get("days_since") or 0),
        "analysis": _dump({"summary": checkin.get("summary"), "insights": checkin.get("insights")}),
    }
    prompt, version = _prompt(context, values, model)
    system = [SystemBlock("You write short, warm check-in messages as a coach. Reply with the message only.")]
    return Prompt(prompt.model, prompt.messages, system, prompt.max_tokens), version
