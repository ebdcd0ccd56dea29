"""Structured output: make the model call a tool, validate its input with pydantic, re-ask once on errors.

This is the one retry loop for invalid output (network and rate-limit retries belong to the job layer).
Still invalid after the repair → `InvalidOutput` (a `PermanentError`) carrying the validation errors, and
the usage of both calls (they were made and paid for): the job fails with them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import PermanentError
from shared.llm.base import ChatMessage, Completion, LLMProvider, Prompt, Tool, Usage

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Structured(Generic[T]):
    value: T
    model: str
    usages: tuple[Usage, ...]  # one per model call: two when a repair was needed

    @property
    def repaired(self) -> bool:
        return len(self.usages) > 1


class InvalidOutput(PermanentError):
    """The model's tool input stayed invalid after one repair; `usages`: the calls that were made."""

    def __init__(self, message: str, model: str, usages: tuple[Usage, ...]) -> None:
        super().__init__(message)
        self.model = model
        self.usages = usages


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())


async def call_tool(
    provider: LLMProvider,
    prompt: Prompt,
    tool: Tool,
    schema: type[T],
    on_call: Callable[[Completion], object] | None = None,
) -> Structured[T]:
    """`on_call` is told of each model call as it returns, before anything can fail after it (a repair
    call's error, say): a call made is paid for whatever becomes of the rest."""
    first = await provider.complete(prompt, tool)
    if on_call is not None:
        on_call(first)
    try:
        return Structured(schema.model_validate(first.tool_input or {}), first.model, (first.usage,))
    except ValidationError as exc:
        problems = _errors(exc)
    repair = replace(
        prompt,
        messages=[
            *prompt.messages,
            ChatMessage("assistant", f"{tool.name} input: {json.dumps(first.tool_input or {})}"),
            ChatMessage(
                "user",
                f"That {tool.name} input is invalid: {problems}. Call {tool.name} again with the same content, "
                "corrected so that it matches the schema exactly.",
            ),
        ],
    )
    second: Completion = await provider.complete(repair, tool)
    if on_call is not None:
        on_call(second)
    try:
        value = schema.model_validate(second.tool_input or {})
    except ValidationError as exc:
        raise InvalidOutput(
            f"invalid {tool.name} output after one repair attempt: {_errors(exc)}",
            second.model,
            (first.usage, second.usage),
        ) from exc
    return Structured(value, second.model, (first.usage, second.usage))
