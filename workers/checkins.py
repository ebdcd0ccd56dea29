"""Handlers for `checkin_analysis`, `recommendations` and `user_summary` jobs: structured output, written atomically."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.analysis import (
    ANALYSIS_TOOL,
    MEMORY_TOOL,
    Analysis,
    Memory,
    Recommendations,
    analysis_prompt,
    memory_prompt,
    recommendations_prompt,
    recommendations_tool,
)
from shared.errors import PermanentError
from shared.llm.base import LLMProvider, Usage
from shared.models import Job
from shared.structured import call_tool
from workers.runtime import JobContext

log = logging.getLogger("workers.checkins")


def usage_params(usage: Usage) -> dict[str, int]:
    return {
        "p_input_tokens": usage.input_tokens,
        "p_output_tokens": usage.output_tokens,
        "p_cache_read_tokens": usage.cache_read_tokens,
        "p_cache_write_tokens": usage.cache_write_tokens,
    }


def count_tokens(ctx: JobContext, kind: str, usage: Usage) -> None:
    for name, value in (("input", usage.input_tokens), ("output", usage.output_tokens)):
        ctx.metrics.inc("coachbase_llm_tokens_total", value, kind=kind, type=name)


@dataclass
class CheckinAnalysisHandler:
    provider: LLMProvider
    model: str

    async def __call__(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        base = {"p_job_id": job.id, "p_worker": ctx.queue.worker_id}
        context = await ctx.queue.rpc("checkin_analysis_context_v1", base)
        try:
            prompt, version = analysis_prompt(context, self.model)
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc
        result = await call_tool(self.provider, prompt, ANALYSIS_TOOL, Analysis)
        await ctx.queue.rpc(
            "complete_checkin_analysis_v1",
            {
                **base,
                "p_summary": result.value.summary,
                "p_insights": result.value.insights.model_dump(),
                "p_model": result.model,
                "p_prompt_version": version,
                **usage_params(result.usage),
            },
        )
        ctx.completed = True
        count_tokens(ctx, job.kind, result.usage)
        log.info("check-in analysed", extra={"job_id": job.id, "repaired": result.repaired})
        return None


@dataclass
class RecommendationsHandler:
    provider: LLMProvider
    model: str

    async def __call__(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        base = {"p_job_id": job.id, "p_worker": ctx.queue.worker_id}
        context = await ctx.queue.rpc("recommendations_context_v1", base)
        try:
            prompt, version = recommendations_prompt(context, self.model)
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc
        tool = recommendations_tool(int(context.get("max_recommendations") or 3))
        result = await call_tool(self.provider, prompt, tool, Recommendations)
        items = [r.model_dump() for r in result.value.recommendations]
        added = await ctx.queue.rpc(
            "complete_recommendations_v1",
            {
                **base,
                "p_items": items,
                "p_model": result.model,
                "p_prompt_version": version,
                **usage_params(result.usage),
            },
        )
        ctx.completed = True
        count_tokens(ctx, job.kind, result.usage)
        log.info("recommendations added", extra={"job_id": job.id, "added": added, "proposed": len(items)})
        return None


@dataclass
class UserSummaryHandler:
    provider: LLMProvider
    model: str

    async def __call__(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        base = {"p_job_id": job.id, "p_worker": ctx.queue.worker_id}
        context = await ctx.queue.rpc("user_summary_context_v1", base)
        try:
            prompt, version = memory_prompt(context, self.model)
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc
        result = await call_tool(self.provider, prompt, MEMORY_TOOL, Memory)
        await ctx.queue.rpc(
            "complete_user_summary_v1",
            {
                **base,
                "p_summary": result.value.summary,
                "p_facts": [f.model_dump() for f in result.value.facts],
                "p_model": result.model,
                "p_prompt_version": version,
                **usage_params(result.usage),
            },
        )
        ctx.completed = True
        count_tokens(ctx, job.kind, result.usage)
        log.info("memory updated", extra={"job_id": job.id, "facts": len(result.value.facts)})
        return None
