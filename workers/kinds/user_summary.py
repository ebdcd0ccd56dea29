"""Job kind `user_summary` (migration 20261206000500): the AI's memory of a user.

The model calls `record_memory` (generated from `Memory`) with the full updated list of facts; the
finish keeps existing facts by id, links each to a message of the user's, and drops anything the user
asked to forget, whatever the model returned.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.llm.base import Prompt
from shared.models import Job
from shared.prompts import as_data, budgeted_lines, data_or, estimate_tokens
from shared.schema import tool_for
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, dump, structured_output, template_prompt

SYSTEM = "You are a careful assistant to a wellbeing coach. Answer only by calling the tool."


class UserSummaryPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: UUID
    reason: str | None = None


class UserSummaryContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: UUID
    summary: str = ""
    facts: list[dict[str, Any]] = Field(default_factory=list)
    forgotten: list[str] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    checkins: list[dict[str, Any]] = Field(default_factory=list)
    prompt: dict[str, Any] | None = None
    token_budget: int = Field(default=12000, ge=500)
    turn_token_cap: int = Field(default=1000, ge=50)


class Fact(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, description="The id of an existing fact you keep or update.")
    fact: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)] = Field(
        description="One short sentence."
    )
    source_message_id: str | None = Field(default=None, description="The message it came from.")


class Memory(BaseModel):
    """The output: public.user_summaries' summary and key facts."""

    model_config = ConfigDict(extra="ignore")

    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=8000)] = Field(
        description="At most 150 words, third person."
    )
    facts: list[Fact] = Field(default_factory=list, max_length=40)


TOOL = tool_for(
    Memory,
    "record_memory",
    "Record the updated memory of the person: a compact summary and the full list of key facts.",
)


def build_prompt(context: UserSummaryContext, model: str) -> tuple[Prompt, str]:
    """The memory update's prompt. Its messages are the newest that fit summary.prompt_token_budget
    (each cut to summary.turn_token_cap), after what the memory itself takes."""
    facts = "\n".join(f"- {f.get('id')}: {f.get('fact')} (from {f.get('source_message_id')})" for f in context.facts)
    forgotten = "\n".join(f"- {f}" for f in context.forgotten)
    checkins = dump(context.checkins) if context.checkins else ""
    taken = sum(estimate_tokens(part) for part in (context.summary, facts, forgotten, checkins))
    lines = [f"[{m['id']}] {m['role']}: {as_data(str(m['content']))}" for m in context.messages]
    kept = budgeted_lines(
        lines, max(0, context.token_budget - taken), per_line=context.turn_token_cap, newest_last=True
    )
    values = {
        "current_summary": data_or("current_summary", context.summary, "Nothing yet."),
        "current_facts": data_or("current_facts", facts, "None yet."),
        "forgotten_facts": data_or("forgotten_facts", forgotten, "None."),
        "new_messages": data_or("new_messages", "\n".join(kept), "None."),
        "recent_checkins": data_or("recent_checkins", checkins, "None."),
    }
    return template_prompt(context.prompt, values, model, SYSTEM)


def handler(deps: Deps) -> Handler:
    async def remember(job: Job, ctx: JobContext) -> Finished:
        UserSummaryPayload.model_validate(job.payload)
        context = UserSummaryContext.model_validate(job.context)
        prompt, version = build_prompt(context, deps.analysis_model)
        return await structured_output(deps.provider, prompt, version, TOOL, Memory)

    return remember


SPEC = KindSpec(
    name="user_summary",
    prompt_kind="user_summary",
    streams=False,
    payload=UserSummaryPayload,
    context=UserSummaryContext,
    output=Memory,
    handler=handler,
)
