"""Handlers for `conversation_summary` (compaction) and `followup` (proactive coach message) jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.analysis import conversation_summary_prompt, followup_prompt
from shared.errors import PermanentError
from shared.llm.base import LLMProvider
from shared.models import Job
from workers.checkins import build_prompt, count_tokens, usage_params
from workers.runtime import JobContext

log = logging.getLogger("workers.conversations")


@dataclass
class ConversationSummaryHandler:
    provider: LLMProvider
    model: str
    keep_recent: int = 20

    async def __call__(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        base = {"p_job_id": job.id, "p_worker": ctx.queue.worker_id}
        context = await ctx.queue.rpc("conversation_summary_context_v1", {**base, "p_keep_recent": self.keep_recent})
        turns = context.get("turns") or []
        if not turns:  # nothing old enough to fold yet
            await ctx.queue.rpc(
                "complete_conversation_summary_v1",
                {**base, "p_summary": "", "p_through_message_id": None, "p_model": "-", "p_prompt_version": "-"},
            )
            ctx.completed = True
            return None
        prompt, version = build_prompt(conversation_summary_prompt, context, self.model)
        completion = await self.provider.complete(prompt)
        if not completion.text.strip():
            raise PermanentError("the model returned an empty conversation summary")
        await ctx.queue.rpc(
            "complete_conversation_summary_v1",
            {
                **base,
                "p_summary": completion.text.strip(),
                "p_through_message_id": turns[-1]["id"],
                "p_model": completion.model,
                "p_prompt_version": version,
                **usage_params(completion.usage),
            },
        )
        ctx.completed = True
        count_tokens(ctx, job.kind, completion.usage)
        log.info("conversation compacted", extra={"job_id": job.id, "turns": len(turns)})
        return None


@dataclass
class FollowupHandler:
    provider: LLMProvider
    model: str

    async def __call__(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        base = {"p_job_id": job.id, "p_worker": ctx.queue.worker_id}
        context = await ctx.queue.rpc("followup_context_v1", base)
        prompt, version = build_prompt(followup_prompt, context, self.model)
        completion = await self.provider.complete(prompt)
        if not completion.text.strip():
            raise PermanentError("the model returned an empty follow-up")
        await ctx.queue.rpc(
            "complete_followup_v1",
            {
                **base,
                "p_coach_id": (context.get("coach") or {}).get("id"),
                "p_content": completion.text.strip(),
                "p_model": completion.model,
                "p_prompt_version": version,
                **usage_params(completion.usage),
            },
        )
        ctx.completed = True
        count_tokens(ctx, job.kind, completion.usage)
        log.info("follow-up sent", extra={"job_id": job.id})
        return None
