"""Structured output: make the model call a tool, validate its input with pydantic, re-ask once on errors.

This is the one retry loop for invalid output (network and rate-limit retries belong to the job layer).
Each model call is handed to `spent` as it returns, before anything after it can fail (the repair call's
own error, say): it was made and paid for whatever becomes of the rest. Still invalid after the repair →
`InvalidOutput` (a `PermanentError`) with the validation errors: the job fails with them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import PermanentError
from shared.llm.base import ChatMessage, Completion, LLMProvider, Prompt, Tool

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Structured(Generic[T]):
    value: T
    model: str


class InvalidOutput(PermanentError):
    """The model's tool input stayed invalid after one repair."""


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())


async def call_tool(
    provider: LLMProvider, prompt: Prompt, tool: Tool, schema: type[T], spent: Callable[[Completion], object]
) -> Structured[T]:
    first = await provider.complete(prompt, tool)
    spent(first)
    try:
        return Structured(schema.model_validate(first.tool_input or {}), first.model)
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
    spent(second)
    try:
        value = schema.model_validate(second.tool_input or {})
    except ValidationError as exc:
        raise InvalidOutput(f"invalid {tool.name} output after one repair attempt: {_errors(exc)}") from exc
    return Structured(value, second.model)
