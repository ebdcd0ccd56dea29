"""Job kind `conversation_summary` (migration 20261206000600): fold a long conversation's older turns.

Queued by a chat reply whose history no longer fits its budget; the summary and the last message it
covers go to the conversation, so later replies send the summary and only the turns after it. Every
prompt has a budget (summary.prompt_token_budget, each turn cut to summary.turn_token_cap): the turns
are folded in chunks that fit it, oldest first, each call summarising the summary so far and the next
chunk (at most MAX_CHUNKS calls a job; what is left is folded by the next compaction).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.llm.base import Prompt
from shared.models import Job
from shared.prompts import as_data, budgeted_lines, data_block, data_or, estimate_tokens
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, ModelCall, template_prompt, text_output

SYSTEM = "You write concise, faithful summaries of coaching conversations."
LONGEST = 20000  # conversations.summary's limit: a longer answer is cut, as the column would


class ConversationSummaryPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    conversation_id: UUID
    user_id: UUID | None = None


class ConversationSummaryContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    previous_summary: str = ""
    turns: list[dict[str, Any]] = Field(default_factory=list)
    prompt: dict[str, Any] | None = None
    token_budget: int = Field(default=12000, ge=500)
    turn_token_cap: int = Field(default=1000, ge=50)


class ConversationSummary(BaseModel):
    """The output: conversations.summary and summary_through_message_id (null: nothing to fold yet)."""

    model_config = ConfigDict(extra="ignore")

    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=LONGEST)]
    through_message_id: UUID | None


MAX_CHUNKS = 8


def turn_lines(context: ConversationSummaryContext, previous_summary: str, start: int = 0) -> list[str]:
    """The next turns from `start` that fit the prompt's budget with the summary so far, one line each."""
    lines = [f"{t['role']}: {as_data(str(t['content']))}" for t in context.turns[start:]]
    budget = max(0, context.token_budget - estimate_tokens(previous_summary))
    return budgeted_lines(lines, budget, per_line=context.turn_token_cap)


def build_prompt(
    context: ConversationSummaryContext, model: str, lines: list[str], previous_summary: str
) -> tuple[Prompt, str]:
    values = {
        "previous_summary": data_or("previous_summary", previous_summary, "(empty)"),
        "turns": data_block("turns", "\n".join(lines)),
    }
    return template_prompt(context.prompt, values, model, SYSTEM)


def handler(deps: Deps) -> Handler:
    async def summarise(job: Job, ctx: JobContext) -> Finished:
        ConversationSummaryPayload.model_validate(job.payload)
        context = ConversationSummaryContext.model_validate(job.context)
        summary, folded = context.previous_summary, 0
        calls: list[ModelCall] = []
        while folded < len(context.turns) and len(calls) < MAX_CHUNKS:
            lines = turn_lines(context, summary, folded)
            if not lines:  # the summary alone fills the budget: nothing more fits
                break
            prompt, version = build_prompt(context, deps.analysis_model, lines, summary)
            summary, call = await text_output(deps.provider, prompt, version, "conversation summary")
            summary = summary[:LONGEST]
            folded += len(lines)
            calls.append(call)
        if not calls:  # nothing old enough to fold yet
            return Finished(ConversationSummary(summary="", through_message_id=None))
        through = context.turns[folded - 1]["id"]  # the last turn the summary covers
        return Finished(ConversationSummary(summary=summary, through_message_id=through), tuple(calls))

    return summarise


SPEC = KindSpec(
    name="conversation_summary",
    prompt_kind="conversation_summary",
    streams=False,
    payload=ConversationSummaryPayload,
    context=ConversationSummaryContext,
    output=ConversationSummary,
    handler=handler,
)
