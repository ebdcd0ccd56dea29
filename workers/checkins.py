"""Structured-output jobs (`checkin_analysis`, `recommendations`, `user_summary`): one handler shape.

Each reads its context through a lease-checked RPC, asks the model to call a tool (validated, repaired
once), and writes the result with usage through a second RPC that also finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

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
from shared.llm.base import LLMProvider, Prompt, Tool, Usage
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


def build_prompt(
    builder: Callable[[dict[str, Any], str], tuple[Prompt, str]], context: dict[str, Any], model: str
) -> tuple[Prompt, str]:
    """A missing prompt assignment is an operator's fix, not something a retry can mend."""
    try:
        return builder(context, model)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc


@dataclass
class StructuredJobHandler:
    provider: LLMProvider
    model: str
    context_rpc: str
    complete_rpc: str
    prompt: Callable[[dict[str, Any], str], tuple[Prompt, str]]
    tool: Callable[[dict[str, Any]], Tool]
    schema: type[BaseModel]
    params: Callable[[Any], dict[str, Any]]  # the validated output → the complete RPC's parameters

    async def __call__(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        base = {"p_job_id": job.id, "p_worker": ctx.queue.worker_id}
        context = await ctx.queue.rpc(self.context_rpc, base)
        prompt, version = build_prompt(self.prompt, context, self.model)
        result = await call_tool(self.provider, prompt, self.tool(context), self.schema)
        written = await ctx.queue.rpc(
            self.complete_rpc,
            {
                **base,
                **self.params(result.value),
                "p_model": result.model,
                "p_prompt_version": version,
                **usage_params(result.usage),
            },
        )
        ctx.completed = True
        count_tokens(ctx, job.kind, result.usage)
        extra = {"job_id": job.id, "kind": job.kind, "repaired": result.repaired}
        if isinstance(written, int):  # recommendations report how many were new
            extra["added"] = written
        log.info("structured output written", extra=extra)
        return None


def checkin_analysis_handler(provider: LLMProvider, model: str) -> StructuredJobHandler:
    return StructuredJobHandler(
        provider,
        model,
        "checkin_analysis_context_v1",
        "complete_checkin_analysis_v1",
        analysis_prompt,
        lambda _context: ANALYSIS_TOOL,
        Analysis,
        lambda a: {"p_summary": a.summary, "p_insights": a.insights.model_dump()},
    )


def recommendations_handler(provider: LLMProvider, model: str) -> StructuredJobHandler:
    return StructuredJobHandler(
        provider,
        model,
        "recommendations_context_v1",
        "complete_recommendations_v1",
        recommendations_prompt,
        lambda context: recommendations_tool(int(context.get("max_recommendations") or 3)),
        Recommendations,
        lambda r: {"p_items": [item.model_dump() for item in r.recommendations]},
    )


def user_summary_handler(provider: LLMProvider, model: str) -> StructuredJobHandler:
    return StructuredJobHandler(
        provider,
        model,
        "user_summary_context_v1",
        "complete_user_summary_v1",
        memory_prompt,
        lambda _context: MEMORY_TOOL,
        Memory,
        lambda m: {"p_summary": m.summary, "p_facts": [fact.model_dump() for fact in m.facts]},
    )
