"""The worker side of the job-kind contract: what a handler gets, what it returns, what a kind declares.

A handler gets a claimed job (with its kind's context, built by the claim) and returns `Finished`: the
output, validated by the kind's pydantic output model, and the model calls that produced it. The
worker sends that back with its next claim, where the kind's finish function writes it, the calls are
recorded in the usage ledger and the job succeeds, in one transaction. There is no other way for a job
to succeed. Failures are raised (TransientError, PermanentError, LeaseLost).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from shared.broadcast import Broadcaster
from shared.embeddings import Embedders
from shared.errors import PermanentError
from shared.llm.base import ChatMessage, LLMProvider, Prompt, SystemBlock, Tool, Usage
from shared.models import Job
from shared.prompts import DATA_NOTICE, render
from shared.structured import call_tool
from workers.metrics import Metrics
from workers.queue import JobQueue
from workers.safety import SafetyDecisions


@dataclass(frozen=True)
class ModelCall:
    """One call to a model: which model, which prompt version, what it cost (a row of the usage ledger)."""

    model: str
    prompt_version: str
    usage: Usage

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt_version": self.prompt_version,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "cache_read_tokens": self.usage.cache_read_tokens,
            "cache_write_tokens": self.usage.cache_write_tokens,
        }


@dataclass(frozen=True)
class Finished:
    """A handler's result: the kind's output and the model calls it took (the last one produced it)."""

    output: BaseModel
    calls: tuple[ModelCall, ...] = ()
    # Another job waits for this one (a message's reply for its safety decision): finish it in a request
    # of its own at once, rather than with the worker's next claim.
    urgent: bool = False
    # Run once the finish's fate is known: True when it committed (e.g. tell this process's waiting replies
    # the decision), False when it did not.
    then: Callable[[bool], None] | None = None

    def item(self, job_id: int) -> dict[str, Any]:
        """The claim_jobs_v4 finish item for this job."""
        return {
            "id": job_id,
            "output": self.output.model_dump(mode="json"),
            "usage": [call.as_json() for call in self.calls],
        }


@dataclass
class JobContext:
    """What a handler gets besides the job: the queue (for its kind's own RPCs) and the metrics."""

    job: Job
    queue: JobQueue
    metrics: Metrics


Handler = Callable[[Job, JobContext], Awaitable[Finished]]


@dataclass(frozen=True)
class Deps:
    """What the handlers of a worker process share."""

    provider: LLMProvider
    broadcaster: Broadcaster
    queue: JobQueue
    chat_model: str
    analysis_model: str
    embedders: Embedders
    delta_interval: float = 0.15
    checkpoint_seconds: float = 1.0
    safety: SafetyDecisions | None = None  # decisions the chat replies wait for (workers/safety.py)


@dataclass(frozen=True)
class KindSpec:
    """A job kind as the worker knows it; tests/schema/test_job_kinds.py compares it with internal.job_kinds."""

    name: str
    prompt_kind: str | None
    streams: bool
    payload: type[BaseModel]
    context: type[BaseModel]
    output: type[BaseModel]
    handler: Callable[[Deps], Handler]


def active_prompt(prompt: dict[str, Any] | None) -> dict[str, Any]:
    """A context's resolved prompt; none assigned or active is an operator's fix, not a retry's."""
    if not isinstance(prompt, dict) or not prompt.get("template"):
        raise PermanentError("no active prompt version is assigned to this job kind (see internal.active_prompts)")
    return prompt


def dump(value: Any) -> str:
    """A value for a prompt: JSON, readable, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def template_prompt(
    prompt_row: dict[str, Any] | None, values: dict[str, str], model: str, system: str
) -> tuple[Prompt, str]:
    """The kind's active template rendered with `values` as the user turn; (prompt, prompt version)."""
    row = active_prompt(prompt_row)
    prompt = Prompt(
        model=str(row.get("model") or model),
        system=[SystemBlock(f"{system}\n\n{DATA_NOTICE}")],
        messages=[ChatMessage("user", render(str(row["template"]), values))],
        max_tokens=int(row.get("max_tokens") or 1024),
    )
    return prompt, str(row.get("prompt_version"))


async def structured_output(
    provider: LLMProvider, prompt: Prompt, version: str, tool: Tool, output: type[BaseModel]
) -> Finished:
    """Make the model call `tool`, validate its input with `output` (re-asked once), as a Finished job."""
    result = await call_tool(provider, prompt, tool, output)
    return Finished(result.value, tuple(ModelCall(result.model, version, usage) for usage in result.usages))


async def text_output(provider: LLMProvider, prompt: Prompt, version: str, what: str) -> tuple[str, ModelCall]:
    """A plain completion's text (refused when empty) and its model call."""
    completion = await provider.complete(prompt)
    text = completion.text.strip()
    if not text:
        raise PermanentError(f"the model returned an empty {what}")
    return text, ModelCall(completion.model, version, completion.usage)
