"""A tool's JSON Schema generated from the pydantic model that validates its input: one source for both.

The model asked to call `record_recommendations` sees exactly the limits the worker then enforces (a
title of at most 80 characters in the schema and in validation, not 80 in one and 200 in the other).
pydantic's schema is made self-contained for the model APIs: `$ref`s to `$defs` are inlined, titles
dropped (field descriptions stay: they are the model's instructions), and objects closed to properties
the model does not list.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from shared.llm.base import Tool


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema, self-contained (no `$ref`), without titles."""
    raw = model.model_json_schema()
    definitions: dict[str, Any] = raw.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = definitions[ref.rsplit("/", 1)[-1]]
            return resolve({**target, **{k: v for k, v in node.items() if k != "$ref"}})
        resolved: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title":  # a schema's title; a property named "title" sits under "properties"
                continue
            if key == "properties" and isinstance(value, dict):
                resolved[key] = {name: resolve(field) for name, field in value.items()}
            else:
                resolved[key] = resolve(value)
        if resolved.get("type") == "object" and "properties" in resolved:
            resolved.setdefault("additionalProperties", False)
        return resolved

    schema: dict[str, Any] = resolve(raw)
    return schema


def tool_for(model: type[BaseModel], name: str, description: str) -> Tool:
    """The tool whose input is `model`: the model calls it, pydantic validates what it sent."""
    return Tool(name=name, description=description, input_schema=json_schema(model))
