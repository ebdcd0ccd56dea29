"""Job kind `followup` (migration 20261206000700): a proactive coach message after a check-in.

Scheduled when a check-in in a category with followup_after is analysed, cancelled by a newer check-in
there; the message goes into the user's latest conversation for the category (or a new one).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints

from shared.llm.base import Prompt
from shared.models import Job
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, template_prompt, text_output
from workers.kinds.checkins import CheckinContext, analysis_of, checkin_values

SYSTEM = "You write short, warm check-in messages as a coach. Reply with the message only."
LONGEST = 32000  # messages.content's limit: a longer answer is cut, as the column would


class FollowupPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    checkin_id: UUID
    user_id: UUID
    category_id: UUID


class FollowupContext(CheckinContext):
    days_since: int = 0
    coach: dict[str, Any] | None = None
    persona: dict[str, Any] | None = None


class Followup(BaseModel):
    """The output: a complete coach message."""

    model_config = ConfigDict(extra="ignore")

    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=LONGEST)]
    coach_id: UUID | None


def build_prompt(context: FollowupContext, model: str) -> tuple[Prompt, str]:
    coach = context.coach or {}
    values = checkin_values(context) | {
        "coach_name": str(coach.get("name") or "your coach"),
        "coach_persona": str((context.persona or {}).get("template") or coach.get("description") or ""),
        "days_since": str(context.days_since),
        "analysis": analysis_of(context),
    }
    return template_prompt(context.prompt, values, model, SYSTEM)


def handler(deps: Deps) -> Handler:
    async def follow_up(job: Job, ctx: JobContext) -> Finished:
        FollowupPayload.model_validate(job.payload)
        context = FollowupContext.model_validate(job.context)
        prompt, version = build_prompt(context, deps.chat_model)
        text, call = await text_output(deps.provider, prompt, version, "follow-up")
        return Finished(Followup(content=text[:LONGEST], coach_id=(context.coach or {}).get("id")), (call,))

    return follow_up


SPEC = KindSpec(
    name="followup",
    prompt_kind="followup",
    streams=False,
    payload=FollowupPayload,
    context=FollowupContext,
    output=Followup,
    handler=handler,
)
