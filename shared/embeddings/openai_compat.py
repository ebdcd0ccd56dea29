"""Embeddings from an OpenAI-compatible API (`POST {base_url}/embeddings`: OpenAI, Ollama, vLLM, ...).

One request per batch of 64 texts, each one call in the usage ledger with the tokens the server reports.
Statuses are classified as for chat models: 408/409/429/5xx and transport errors are transient (the job is
retried later), others permanent. A vector of another size than the model's configured dimensions is a
permanent error: it could not be stored beside the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from shared.embeddings.base import EmbeddingCall, EmbeddingModel, Embeddings, normalised
from shared.errors import PermanentError, TransientError
from shared.http import transport as http_transport
from shared.llm.openai_compat import _status_error

BATCH = 64


class OpenAICompatibleEmbeddings:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str = "local",
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport or http_transport(32),
        )

    async def embed(self, model: EmbeddingModel, texts: Sequence[str]) -> Embeddings:
        vectors: list[list[float]] = []
        calls: list[EmbeddingCall] = []
        items = list(texts)
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            data = await self._post({"model": model.name, "input": batch, "encoding_format": "float"})
            rows = sorted(data.get("data") or [], key=lambda row: int(row.get("index", 0)))
            if len(rows) != len(batch):
                raise PermanentError(f"embeddings: asked for {len(batch)} vectors, got {len(rows)}")
            for row in rows:
                vector = row.get("embedding")
                if not isinstance(vector, list) or len(vector) != model.dimensions:
                    size = len(vector) if isinstance(vector, list) else "no"
                    raise PermanentError(
                        f"embeddings: {model.name} returned a vector of {size} dimensions, configured for "
                        f"{model.dimensions} (see knowledge.embedding_model)"
                    )
                vectors.append(normalised([float(x) for x in vector]))
            usage = data.get("usage")
            usage = usage if isinstance(usage, dict) else {}
            tokens = int(usage.get("prompt_tokens") or usage.get("total_tokens") or 0)
            calls.append(EmbeddingCall(str(data.get("model") or model.name), len(batch), tokens))
        return Embeddings(vectors, tuple(calls))

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post("/embeddings", json=body)
        except httpx.TransportError as exc:
            raise TransientError(f"embeddings server unreachable: {exc!r}") from exc
        if response.status_code >= 400:
            raise _status_error(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise TransientError(f"embeddings server sent no JSON: {response.text[:200]!r}") from exc
        if not isinstance(data, dict):
            raise PermanentError("embeddings server answered something other than an object")
        return data

    async def aclose(self) -> None:
        await self._client.aclose()
