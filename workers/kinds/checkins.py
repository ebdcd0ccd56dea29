"""What the kinds about a check-in share: their payload, their context's common part, its prompt values."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.prompts import data_block, data_or, one_line
from workers.kinds.base import dump


class CheckinPayload(BaseModel):
    """A job about one check-in: ids only; the content is read from the database."""

    model_config = ConfigDict(extra="ignore")

    checkin_id: UUID
    user_id: UUID


class CheckinContext(BaseModel):
    """internal.checkin_context: the check-in, its category's form and guidelines, recent check-ins, memory."""

    model_config = ConfigDict(extra="ignore")

    checkin: dict[str, Any]
    category: dict[str, Any] | None = None
    guidelines: list[dict[str, Any]] = Field(default_factory=list)
    recent: list[dict[str, Any]] = Field(default_factory=list)
    profile: dict[str, Any] | None = None
    memory: dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None
    child: dict[str, Any] | None = None  # a check-in about a child (internal.child_context)


def checkin_values(context: CheckinContext) -> dict[str, str]:
    """The placeholders every prompt about a check-in can use."""
    guidelines = "\n\n".join(str(g.get("guidelines") or "") for g in context.guidelines) or "None."
    profile = context.profile or {}
    category = context.category or {}
    return {
        "category": str(category.get("name") or ""),
        "guidelines": guidelines,
        "questions": dump(category.get("questions") or []),
        "user_summary": data_or("memory", (context.memory or {}).get("summary"), "Nothing yet."),
        "locale": str(profile.get("locale") or "en"),
        "display_name": one_line(str(profile.get("display_name") or "the person"), 80),
        "child": data_or("child", dump(context.child) if context.child else None, "None: it is about the person."),
    }


def analysis_of(context: CheckinContext) -> str:
    """The check-in's stored analysis, for the prompts that build on it."""
    return data_block(
        "analysis", dump({"summary": context.checkin.get("summary"), "insights": context.checkin.get("insights")})
    )
