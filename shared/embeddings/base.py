"""The embedding interface: a model named by the database, texts in, normalised vectors and their calls out.

The model a row is embedded with is an operator setting (`knowledge.embedding_model`: name, provider,
dimensions), recorded on every chunk; the worker turns it into a provider call. Each request to a model
is one `EmbeddingCall`, which becomes one row of the usage ledger.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

ProviderName = Literal["offline", "openai"]


class EmbeddingModel(BaseModel):
    """An embedding model as internal.settings names it: {name, provider, dimensions}."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    provider: ProviderName
    dimensions: int = Field(ge=1, le=16000)


@dataclass(frozen=True)
class EmbeddingCall:
    """One request to an embedding model: what the usage ledger records."""

    model: str
    texts: int
    input_tokens: int


@dataclass(frozen=True)
class Embeddings:
    """Unit-length vectors, one per text in order, and the calls that made them."""

    vectors: list[list[float]]
    calls: tuple[EmbeddingCall, ...]


class EmbeddingsProvider(Protocol):
    """Embeds texts with a model of its provider. Errors are `TransientError` or `PermanentError`."""

    name: str

    async def embed(self, model: EmbeddingModel, texts: Sequence[str]) -> Embeddings: ...

    async def aclose(self) -> None: ...


def normalised(vector: Sequence[float]) -> list[float]:
    """The vector at unit length (cosine distance = 1 - dot product), rounded for JSON; zero stays zero."""
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0:
        return [0.0 for _ in vector]
    return [round(x / norm, 6) for x in vector]
