"""Job kind `expert_matching` (migration 20261207000700): experts suggested for a child.

The candidates come with the claim, found in SQL (active, verified, within the radius, ranked by the
specialties the child's analyses point to, then distance, then rating). The model ranks up to five of them
with reasons through `record_expert_matches` (schema from `ExpertRanking`); an id that is not a candidate
is dropped here and again by the finish function. No candidates: no model call.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.models import Job
from shared.prompts import data_block
from shared.schema import tool_for
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, dump, tool_output
from workers.kinds.child_files import Line, picture_prompt

log = logging.getLogger("workers.kinds.expert_matching")


class MatchingPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    child_id: str
    user_id: str | None = None
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0, le=500)


class MatchingContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    child: dict[str, Any] | None = None
    specialties: list[str] = Field(default_factory=list)
    findings: list[str | None] = Field(default_factory=list)
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    locale: str = "en"
    prompt: dict[str, Any] | None = None


class Match(BaseModel):
    model_config = ConfigDict(extra="ignore")

    expert_id: str = Field(description="The candidate's id, exactly as given.")
    score: float = Field(ge=0, le=1)
    reasons: list[Line] = Field(min_length=1, max_length=3)


class ExpertRanking(BaseModel):
    """The output: the ranked matches, best first."""

    model_config = ConfigDict(extra="ignore")

    matches: list[Match] = Field(default_factory=list, max_length=5)


TOOL = tool_for(ExpertRanking, "record_expert_matches", "Record the experts to suggest, best first.")


def handler(deps: Deps) -> Handler:
    async def match(job: Job, ctx: JobContext) -> Finished:
        MatchingPayload.model_validate(job.payload)
        context = MatchingContext.model_validate(job.context)
        if context.child is None or not context.candidates:
            return Finished(ExpertRanking())
        values = {
            "child": data_block("child", dump(context.child)),
            "specialties": ", ".join(context.specialties) or "None yet: any specialty may help.",
            "findings": data_block("findings", dump([f for f in context.findings if f]))
            if any(context.findings)
            else "No analyses yet.",
            "candidates": data_block("candidates", dump(context.candidates)),
            "locale": context.locale,
        }
        prompt, version = picture_prompt(context.prompt, values, deps.analysis_model, [])
        result, calls = await tool_output(deps.provider, prompt, version, TOOL, ExpertRanking)
        known = {str(c.get("id")) for c in context.candidates}
        kept = [m for m in result.value.matches if m.expert_id in known]
        if len(kept) < len(result.value.matches):
            log.info("model named experts that are not candidates", extra={"job_id": job.id})
        return Finished(ExpertRanking(matches=kept), calls)

    return match


SPEC = KindSpec(
    name="expert_matching",
    prompt_kind="expert_matching",
    streams=False,
    payload=MatchingPayload,
    context=MatchingContext,
    output=ExpertRanking,
    handler=handler,
)
