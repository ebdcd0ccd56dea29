"""Structured output's model calls count as spent as each returns, whatever becomes of the attempt after it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from shared.errors import TransientError
from shared.llm.base import ChatMessage, Completion, Prompt, Tool, Usage
from shared.structured import InvalidOutput
from workers.kinds.base import Spending, tool_output

TOOL = Tool("record_mood", "Record the mood.", {"type": "object", "properties": {"mood": {"type": "string"}}})
PROMPT = Prompt(model="claude-fake-1", system=[], messages=[ChatMessage("user", "How am I?")], max_tokens=100)


class Mood(BaseModel):
    mood: str


class Scripted:
    """A provider answering `complete` from a script: a tool input, or an error to raise."""

    name = "scripted"

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        self.answers = list(answers)

    async def complete(self, prompt: Prompt, tool: Tool | None = None) -> Completion:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Completion("", "claude-fake-1", Usage(600 + len(self.answers), 40), "tool_use", answer)


async def spent_by(provider: Scripted) -> tuple[list[int], BaseException | None]:
    spending = Spending()
    error: BaseException | None = None
    with spending.current():
        try:
            await tool_output(provider, PROMPT, "v1", TOOL, Mood)  # type: ignore[arg-type]
        except Exception as exc:
            error = exc
    return sorted(call.usage.input_tokens for call in spending.unrecorded()), error


async def test_a_repair_calls_failure_leaves_the_first_call_spent() -> None:
    calls, error = await spent_by(Scripted({"mood": 3}, TransientError("overloaded")))
    assert isinstance(error, TransientError) and calls == [601]


@pytest.mark.parametrize(
    ("answers", "expected", "failure"),
    [
        (({"mood": "calm"},), [600], None),
        (({"mood": 3}, {"mood": "calm"}), [600, 601], None),
        (({"mood": 3}, {"mood": 4}), [600, 601], InvalidOutput),
    ],
    ids=["valid", "repaired", "still-invalid"],
)
async def test_every_call_made_is_spent_once(
    answers: tuple[dict[str, Any], ...], expected: list[int], failure: type[Exception] | None
) -> None:
    calls, error = await spent_by(Scripted(*answers))
    assert calls == expected
    assert (error is None) if failure is None else isinstance(error, failure)
