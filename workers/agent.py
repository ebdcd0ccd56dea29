"""The tool loop's durable steps: a model turn that calls tools commits with its calls' effects.

`run` stores the turn (its text and its calls) and runs the calls, each one's effect and result
together, for the conversation's user, in one transaction (run_reply_step_v1): a worker that dies before
the commit leaves nothing of the turn, and the worker that takes the reply over asks the model for it again;
one that dies after leaves the turn with every result. A reply taken over gets its stored steps with the
claim and continues from them; a step stored without its results (by a worker of the release before) has
its calls without a result run by the same function. The model is sent each stored turn followed by its
results, never a call without its result. The model's view of a turn is rebuilt from what is stored, so it
is the same whoever continues the reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import PermanentError
from shared.llm.base import Block, ChatMessage, TextBlock, ToolResult, ToolUse
from shared.llm.tool_input import new_call_id
from workers.kinds.base import ModelCall, recorded
from workers.queue import JobQueue

MAX_CALLS = 64  # a turn's calls run_reply_step_v1 takes
_NAME = re.compile(r"[^A-Za-z0-9_-]")  # what a tool name may hold (the Messages API's pattern)


def storable_calls(calls: Iterable[ToolUse], taken: set[str]) -> tuple[ToolUse, ...]:
    """A turn's calls as its step can store them, whatever the model wrote: at most MAX_CALLS; a name of the
    characters a tool name may hold, 1 to 64 of them (one no tool has is answered "not available"); an id
    used by no other call of the reply (`taken`: those of its earlier steps). Left as written, one bad call
    failed the whole reply on the table's constraints. The model sees the turn as stored."""
    kept: list[ToolUse] = []
    used = set(taken)
    for call in list(calls)[:MAX_CALLS]:
        name = _NAME.sub("_", call.name)[:64] or "unnamed_tool"
        call_id = call.id if call.id and call.id not in used and not _NAME.search(call.id) else new_call_id(used)
        used.add(call_id)
        kept.append(ToolUse(call_id, name, call.input))
    return tuple(kept)


class StoredCall(BaseModel):
    """A row of public.tool_calls as the step functions return it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    tool_use_id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    status: Literal["pending", "succeeded", "failed"]
    result: Any = None
    is_error: bool = False


class Step(BaseModel):
    """A stored model turn: its text and its calls (with their results once they ran)."""

    model_config = ConfigDict(extra="ignore")

    step: int
    text: str = ""
    calls: list[StoredCall] = Field(default_factory=list)

    @property
    def pending(self) -> bool:
        return any(call.status == "pending" for call in self.calls)

    def messages(self) -> list[ChatMessage]:
        """The turn as the model made it, then the user turn with every call's result."""
        if self.pending:
            raise PermanentError(f"step {self.step} has tool calls without a result")
        blocks: list[Block] = [TextBlock(self.text)] if self.text.strip() else []
        blocks += [ToolUse(call.tool_use_id, call.name, call.input) for call in self.calls]
        results = tuple(
            ToolResult(call.tool_use_id, json.dumps(call.result, ensure_ascii=False), call.is_error)
            for call in self.calls
        )
        return [ChatMessage("assistant", tuple(blocks)), ChatMessage("user", results)]


class ToolSteps:
    """The step functions of one reply's job."""

    def __init__(self, queue: JobQueue, job_id: int) -> None:
        self.queue = queue
        self.job_id = job_id

    async def run(
        self,
        number: int,
        text: str,
        calls: tuple[ToolUse, ...],
        call: ModelCall,
        delta: dict[str, Any] | None,
        taken: set[str],
    ) -> Step:
        """Store a turn with its calls and run them (in Postgres, each once), in one transaction; the step
        with every result. `delta`, the reply's text not yet broadcast, goes out from that transaction before
        the calls. (The reply's text so far is the checkpoints' to write, with the deltas it holds.) `taken`:
        the call ids of the reply's earlier steps."""
        calls_json = [{"tool_use_id": c.id, "name": c.name, "input": c.input} for c in storable_calls(calls, taken)]
        step = {"step": number, "text": text, "calls": calls_json, "usage": call.as_json(), "delta": delta}
        stored = await self._run(step, text)
        recorded(call)  # the step put its turn's call in the ledger
        return stored

    async def resume(self, step: Step) -> Step:
        """Run the calls of a stored step that have no result (a step a worker of the release before stored
        without running it); the step with every result."""
        return await self._run({"step": step.step}, step.text)

    async def _run(self, step: dict[str, Any], text: str) -> Step:
        stored = await self.queue.rpc(
            "run_reply_step_v1", {"p_job_id": self.job_id, "p_worker": self.queue.worker_id, "p_step": step}
        )
        return Step(step=step["step"], text=text, calls=stored or [])
