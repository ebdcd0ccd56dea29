"""The worker's embedding providers, picked per model: the model names its provider."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from shared.embeddings.base import EmbeddingModel, Embeddings, EmbeddingsProvider
from shared.embeddings.offline import OfflineEmbeddings
from shared.embeddings.openai_compat import OpenAICompatibleEmbeddings
from shared.errors import PermanentError

log = logging.getLogger("shared.embeddings")


class Embedders:
    """Every provider a worker can use: offline always, the OpenAI-compatible API when configured."""

    def __init__(self, providers: Sequence[EmbeddingsProvider]) -> None:
        self._providers = {p.name: p for p in providers}

    @classmethod
    def from_settings(cls, base_url: str | None, api_key: str | None) -> Embedders:
        providers: list[EmbeddingsProvider] = [OfflineEmbeddings()]
        if base_url:
            log.info("embeddings: OpenAI-compatible API configured", extra={"base_url": base_url})
            providers.append(OpenAICompatibleEmbeddings(base_url, api_key or "local"))
        return cls(providers)

    async def embed(self, model: EmbeddingModel, texts: Sequence[str]) -> Embeddings:
        if not texts:
            return Embeddings([], ())
        provider = self._providers.get(model.provider)
        if provider is None:
            raise PermanentError(
                f"embedding model {model.name} needs the {model.provider} provider: set "
                "COACHBASE_EMBEDDINGS_BASE_URL (or OPENAI_BASE_URL) for an OpenAI-compatible embeddings API"
            )
        return await provider.embed(model, texts)

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
