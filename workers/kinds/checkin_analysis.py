"""Job kind `checkin_analysis` (migration 20261206000300): a completed check-in's summary and insights.

The model answers by calling `record_analysis`, whose schema is generated from `Analysis`; the output
is validated with that model (re-asked once), then internal.checkin_analysis_finish stores it on the
check-in and queues its recommendations.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.llm.base import Prompt
from shared.models import Job
from shared.prompts import data_block, data_or
from shared.schema import tool_for
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, dump, structured_output, template_prompt
from workers.kinds.checkins import CheckinContext, CheckinPayload, checkin_values

FIELDS = ("level", "answers", "note", "completed_at")
SYSTEM = "You are a careful assistant to a wellbeing coach. Answer only by calling the tool."


class Insights(BaseModel):
    model_config = ConfigDict(extra="ignore")

    trend: Literal["improving", "stable", "declining", "first_checkin"] = Field(
        description="Compared with earlier check-ins in the category; first_checkin when there is none."
    )
    themes: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=3, description="Up to three short themes, e.g. 'late screens'."
    )
    focus: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] = Field(
        description="The one thing most worth working on next."
    )
    safety_concern: bool = Field(default=False, description="True only if the answers suggest a risk.")


class Analysis(BaseModel):
    """The output: stored as checkins.summary and checkins.insights."""

    model_config = ConfigDict(extra="ignore")

    summary: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)] = Field(
        description="Two or three sentences written to the person."
    )
    insights: Insights


TOOL = tool_for(Analysis, "record_analysis", "Record the analysis of the person's check-in.")


CHECKIN_FIELDS = ("level", "answers", "note", "completed_at")


def build_prompt(context: CheckinContext, model: str) -> tuple[Prompt, str]:
    checkin = context.checkin
    values = checkin_values(context) | {
        "checkin": data_block("checkin", dump({k: checkin.get(k) for k in CHECKIN_FIELDS})),
        "recent_checkins": data_or("recent_checkins", context.recent and dump(context.recent), "None: the first."),
    }
    return template_prompt(context.prompt, values, model, SYSTEM)


def handler(deps: Deps) -> Handler:
    async def analyse(job: Job, ctx: JobContext) -> Finished:
        CheckinPayload.model_validate(job.payload)
        context = CheckinContext.model_validate(job.context)
        prompt, version = build_prompt(context, deps.analysis_model)
        return await structured_output(deps.provider, prompt, version, TOOL, Analysis)

    return analyse


SPEC = KindSpec(
    name="checkin_analysis",
    prompt_kind="checkin_analysis",
    streams=False,
    payload=CheckinPayload,
    context=CheckinContext,
    output=Analysis,
    handler=handler,
)
