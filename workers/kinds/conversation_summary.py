"""Job kind `conversation_summary` (migration 20261206000600): fold a long conversation's older turns.

Queued by a chat reply whose history no longer fits its budget; the summary and the last message it
covers go to the conversation, so later replies send the summary and only the turns after it.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.llm.base import Prompt
from shared.models import Job
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, template_prompt, text_output

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


class ConversationSummary(BaseModel):
    """The output: conversations.summary and summary_through_message_id (null: nothing to fold yet)."""

    model_config = ConfigDict(extra="ignore")

    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=LONGEST)]
    through_message_id: UUID | None


def build_prompt(context: ConversationSummaryContext, model: str) -> tuple[Prompt, str]:
    values = {
        "previous_summary": context.previous_summary or "(empty)",
        "turns": "\n".join(f"{t['role']}: {t['content']}" for t in context.turns),
    }
    return template_prompt(context.prompt, values, model, SYSTEM)


def handler(deps: Deps) -> Handler:
    async def summarise(job: Job, ctx: JobContext) -> Finished:
        ConversationSummaryPayload.model_validate(job.payload)
        context = ConversationSummaryContext.model_validate(job.context)
        if not context.turns:  # nothing old enough to fold yet
            return Finished(ConversationSummary(summary="", through_message_id=None))
        prompt, version = build_prompt(context, deps.analysis_model)
        text, call = await text_output(deps.provider, prompt, version, "conversation summary")
        summary = ConversationSummary(summary=text[:LONGEST], through_message_id=context.turns[-1]["id"])
        return Finished(summary, (call,))

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
