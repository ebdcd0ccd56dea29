"""The chat reply handler: build the prompt, stream the model's answer as batched Broadcast deltas,
checkpoint the partial text into the row about once a second (every stream's checkpoints together, see
workers/checkpoints.py), then complete the row and the job at once.

The context comes with the claim (claim_jobs_v2), and the reply is completed with the worker's next
claim (claim_jobs_v3 → complete_chat_reply_v2), where the database broadcasts the last delta and `done`:
a short reply costs the worker about one API request besides the model's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from shared.broadcast import Broadcaster
from shared.llm.base import Completion, LLMProvider, TextDelta
from shared.models import ChatReplyPayload, Job
from shared.prompts import ChatPromptSettings, build_chat_prompt, needs_compaction, with_operator_settings
from workers.checkpoints import Checkpoints
from workers.queue import LeaseLost
from workers.runtime import JobContext

log = logging.getLogger("workers.chat")


class DeltaBatcher:
    """Collects text and broadcasts it at most every `interval` seconds as {message_id, seq, text}."""

    def __init__(self, broadcaster: Broadcaster, topic: str, message_id: str, interval: float) -> None:
        self.broadcaster = broadcaster
        self.topic = topic
        self.message_id = message_id
        self.interval = interval
        self.pending: list[str] = []
        self.seq = 0
        # Counted from the request: with any real model the first token comes later than `interval`
        # and goes out at once; a reply faster than that goes out whole with the completion.
        self.last_flush = time.monotonic()

    async def add(self, text: str) -> None:
        self.pending.append(text)
        if time.monotonic() - self.last_flush >= self.interval:
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        text, self.seq = self.take_tail()
        self.last_flush = time.monotonic()
        await self.broadcaster.send(self.topic, "delta", {"message_id": self.message_id, "seq": self.seq, "text": text})

    def take_tail(self) -> tuple[str, int]:
        """The text not yet sent and the sequence number it goes out with (0 when there is none)."""
        if not self.pending:
            return "", 0
        text, self.pending = "".join(self.pending), []
        self.seq += 1
        return text, self.seq


@dataclass
class ChatReplyHandler:
    provider: LLMProvider
    broadcaster: Broadcaster
    prompt_settings: ChatPromptSettings
    checkpoints: Checkpoints
    delta_interval: float = 0.15
    checkpoint_seconds: float = 1.0

    async def __call__(self, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        payload = ChatReplyPayload.model_validate(job.payload)
        worker = ctx.queue.worker_id
        context = job.context
        if context is None:  # claimed without it (claim_jobs_v2 could not build it): ask, and fail on its error
            context = await ctx.queue.rpc("chat_reply_context_v1", {"p_job_id": job.id, "p_worker": worker})
        prompt_settings = with_operator_settings(context, self.prompt_settings)
        prompt, prompt_version = build_chat_prompt(context, prompt_settings)
        timing = context.get("settings") or {}
        topic = f"conversation:{payload.conversation_id}"
        reply_id = str(payload.assistant_message_id)
        try:
            final, batcher = await self._stream(job, ctx, prompt, topic, reply_id, timing)
        except LeaseLost:
            raise
        except Exception as exc:
            retrying = not job.is_last_attempt
            error = {"message_id": reply_id, "retrying": retrying, "error": type(exc).__name__}
            await self.broadcaster.send(topic, "error", error)
            raise
        if needs_compaction(context, prompt_settings):
            await ctx.queue.rpc("request_conversation_summary_v1", {"p_job_id": job.id, "p_worker": worker})
        tail, tail_seq = batcher.take_tail()
        # complete_chat_reply_v2 inside the worker's next claim: row, usage, job, last delta and `done`.
        await ctx.finish(
            chat_reply={
                "message_id": reply_id,
                "content": final.text,
                "model": final.model,
                "prompt_version": prompt_version,
                "input_tokens": final.usage.input_tokens,
                "output_tokens": final.usage.output_tokens,
                "cache_read_tokens": final.usage.cache_read_tokens,
                "cache_write_tokens": final.usage.cache_write_tokens,
                "tail": tail,
                "tail_seq": tail_seq or None,
            }
        )
        for kind, value in (
            ("input", final.usage.input_tokens),
            ("output", final.usage.output_tokens),
            ("cache_read", final.usage.cache_read_tokens),
            ("cache_write", final.usage.cache_write_tokens),
        ):
            ctx.metrics.inc("coachbase_llm_tokens_total", value, kind=job.kind, type=kind)
        return None

    async def _stream(
        self, job: Job, ctx: JobContext, prompt: Any, topic: str, reply_id: str, timing: dict[str, Any]
    ) -> tuple[Completion, DeltaBatcher]:
        """Stream the reply; internal.settings' reply.delta_interval_ms / checkpoint_interval_ms win over env.

        Returns the completion and the batcher, still holding the text not yet broadcast: it goes out with
        the completion."""
        interval = _seconds(timing.get("reply.delta_interval_ms"), self.delta_interval)
        checkpoint_every = _seconds(timing.get("reply.checkpoint_interval_ms"), self.checkpoint_seconds)
        batcher = DeltaBatcher(self.broadcaster, topic, reply_id, interval)
        parts: list[str] = []
        final: Completion | None = None
        last_checkpoint = time.monotonic()
        try:
            async for event in self.provider.stream(prompt):
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    await batcher.add(event.text)
                    if time.monotonic() - last_checkpoint >= checkpoint_every:
                        await self._checkpoint(job, reply_id, "".join(parts))
                        last_checkpoint = time.monotonic()
                else:
                    final = event
        except Exception as exc:
            ctx.metrics.inc("coachbase_llm_errors_total", kind=job.kind, error=type(exc).__name__)
            raise
        if final is None:  # providers always end with a Completion; guard against a broken one
            raise RuntimeError("the provider's stream ended without a completion")
        return final, batcher

    async def _checkpoint(self, job: Job, reply_id: str, text: str) -> None:
        try:
            await self.checkpoints.save(job.id, reply_id, text)
        except LeaseLost:
            raise
        except Exception as exc:  # a missed checkpoint only delays catch-up; the final write is what counts
            log.warning("checkpoint failed", extra={"job_id": job.id, "error": repr(exc)})


def _seconds(milliseconds: Any, default: float) -> float:
    return milliseconds / 1000 if isinstance(milliseconds, int | float) and milliseconds > 0 else default
