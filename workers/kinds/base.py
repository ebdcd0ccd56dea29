"""The worker side of the job-kind contract: what a handler gets, what it returns, what a kind declares.

A handler gets a claimed job (with its kind's context, built by the claim) and returns `Finished`: the
output, validated by the kind's pydantic output model, and the model calls that produced it. The
worker sends that back with its next claim, where the kind's finish function writes it, the calls are
recorded in the usage ledger and the job succeeds, in one transaction. There is no other way for a job
to succeed. Failures are raised (TransientError, PermanentError, LeaseLost).

Every model call reaches the usage ledger once, whatever becomes of its attempt: a `ModelCall` is made
when a call returns and counts itself spent by the attempt being run (`Spending`); the finish carries the
attempt's calls besides the output's own, a tool step records its turn's, and an attempt that fails records
those not yet recorded (record_spent_calls_v1). Each call's `call_id` keeps the ledger from counting it twice.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from shared.broadcast import Broadcaster
from shared.embeddings import Embedders
from shared.errors import PermanentError
from shared.llm.base import ChatMessage, LLMProvider, Prompt, SystemBlock, Tool, Usage
from shared.models import Job
from shared.prompts import DATA_NOTICE, render
from shared.structured import Structured, call_tool
from workers.metrics import Metrics
from workers.queue import JobQueue
from workers.safety import SafetyDecisions

Output = TypeVar("Output", bound=BaseModel)


@dataclass(frozen=True)
class ModelCall:
    """One call to a model: which model, which prompt version, what it cost (a row of the usage ledger).
    Made when the call returns, it counts itself spent by the job attempt being run (`Spending`)."""

    model: str
    prompt_version: str
    usage: Usage
    call_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        spending = _SPENDING.get()
        if spending is not None:
            spending.made(self)

    def as_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
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

    def item(self, job_id: int, spent: list[ModelCall] | None = None) -> dict[str, Any]:
        """The claim_jobs_v4 finish item for this job. `spent`, the attempt's calls not yet in the ledger, go
        with it: those the output does not name first, since the last call stamps the output."""
        own = {call.call_id for call in self.calls}
        calls = [*(call for call in spent or () if call.call_id not in own), *self.calls]
        return {"id": job_id, "output": self.output.model_dump(mode="json"), "usage": [c.as_json() for c in calls]}


class Spending:
    """The model calls one attempt at a job made, and which of them the ledger has already."""

    def __init__(self) -> None:
        self._unrecorded: dict[str, ModelCall] = {}

    def made(self, call: ModelCall) -> None:
        self._unrecorded[call.call_id] = call

    def recorded(self, calls: tuple[ModelCall, ...]) -> None:
        for call in calls:
            self._unrecorded.pop(call.call_id, None)

    def unrecorded(self) -> list[ModelCall]:
        return list(self._unrecorded.values())

    @contextlib.contextmanager
    def current(self) -> Iterator[Spending]:
        """The attempt being run in this task (and the tasks it starts)."""
        token = _SPENDING.set(self)
        try:
            yield self
        finally:
            _SPENDING.reset(token)


_SPENDING: ContextVar[Spending | None] = ContextVar("coachbase_spending", default=None)


def recorded(*calls: ModelCall) -> None:
    """`calls` are in the ledger (a tool step committed them): an attempt that fails later leaves them be."""
    spending = _SPENDING.get()
    if spending is not None:
        spending.recorded(calls)


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
    result, calls = await tool_output(provider, prompt, version, tool, output)
    return Finished(result.value, calls)


async def tool_output(
    provider: LLMProvider, prompt: Prompt, version: str, tool: Tool, output: type[Output]
) -> tuple[Structured[Output], tuple[ModelCall, ...]]:
    """`call_tool` with its model calls. Each counts as spent when it returns (a ModelCall), so an attempt
    that fails after it (output still invalid, or the repair call's own error) records it all the same."""
    calls: list[ModelCall] = []
    result = await call_tool(
        provider, prompt, tool, output, lambda made: calls.append(ModelCall(made.model, version, made.usage))
    )
    return result, tuple(calls)


async def text_output(provider: LLMProvider, prompt: Prompt, version: str, what: str) -> tuple[str, ModelCall]:
    """A plain completion's text (refused when empty) and its model call."""
    completion = await provider.complete(prompt)
    text = completion.text.strip()
    if not text:
        raise PermanentError(f"the model returned an empty {what}")
    return text, ModelCall(completion.model, version, completion.usage)
