"""Job kind `recommendations` (migration 20261206000400): next steps after a check-in's analysis.

The model calls `record_recommendations`, generated from `Recommendations` with its array capped at the
operators' recommendations.max_per_checkin; internal.recommendations_finish adds them, skipping titles
the user already has open. The title's limit (80) is the pydantic model's, in the schema the model sees
and in validation alike, and within the table's own check (200, compared by a test).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.llm.base import Prompt, Tool
from shared.models import Job
from shared.prompts import data_block
from shared.schema import tool_for
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, structured_output, template_prompt
from workers.kinds.checkins import CheckinContext, CheckinPayload, analysis_of, checkin_values

SYSTEM = "You are a careful assistant to a wellbeing coach. Answer only by calling the tool."
MOST = 5


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)] = Field(
        description="A short imperative."
    )
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)] = Field(
        description="What to do, in two or three sentences."
    )
    why: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = Field(
        default="", description="Why this helps them in particular."
    )
    how: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = Field(
        default="", description="The very first small step."
    )
    importance: int = Field(ge=1, le=5, description="1 (nice to have) to 5 (most important right now).")


class Recommendations(BaseModel):
    """The output: rows of public.recommendations."""

    model_config = ConfigDict(extra="ignore")

    recommendations: list[Recommendation] = Field(min_length=1, max_length=MOST, description="Best first.")


class RecommendationsContext(CheckinContext):
    open_recommendations: list[dict[str, Any]] = Field(default_factory=list)
    max_recommendations: int = Field(default=3, ge=1, le=MOST)


TOOL = tool_for(
    Recommendations, "record_recommendations", "Record 1 to the maximum number of recommendations, best first."
)


def tool(maximum: int) -> Tool:
    """The tool with its array capped at the operators' maximum (never above the model's own)."""
    schema = dict(TOOL.input_schema)
    items = dict(schema["properties"]["recommendations"])
    items["maxItems"] = max(1, min(maximum, MOST))
    schema["properties"] = {**schema["properties"], "recommendations": items}
    return replace(TOOL, input_schema=schema)


def build_prompt(context: RecommendationsContext, model: str) -> tuple[Prompt, str]:
    titles = [str(r.get("title")) for r in context.open_recommendations]
    values = checkin_values(context) | {
        "analysis": analysis_of(context),
        "open_recommendations": data_block("open_recommendations", "\n".join(f"- {t}" for t in titles))
        if titles
        else "None.",
        "max_recommendations": str(context.max_recommendations),
    }
    return template_prompt(context.prompt, values, model, SYSTEM)


def handler(deps: Deps) -> Handler:
    async def recommend(job: Job, ctx: JobContext) -> Finished:
        CheckinPayload.model_validate(job.payload)
        context = RecommendationsContext.model_validate(job.context)
        prompt, version = build_prompt(context, deps.analysis_model)
        return await structured_output(
            deps.provider, prompt, version, tool(context.max_recommendations), Recommendations
        )

    return recommend


SPEC = KindSpec(
    name="recommendations",
    prompt_kind="recommendations",
    streams=False,
    payload=CheckinPayload,
    context=RecommendationsContext,
    output=Recommendations,
    handler=handler,
)
