"""The offline embedding model: WordLlama's static token embeddings, shipped in the `wordllama` wheel.

No download at run time: the weights (`weights/l2_supercat_256.safetensors`) and the tokenizer ship in the
package and are loaded from its own folder with downloads disabled. A text's vector is the mean of its
tokens' vectors (what `WordLlama.embed` computes), done here so that the token count comes from the same
tokenization; the model is Matryoshka-trained, so `-128` and `-64` variants are the first dimensions.
It runs in a worker thread: a batch of 64 chunks takes milliseconds, and replies keep streaming meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.embeddings.base import EmbeddingCall, EmbeddingModel, Embeddings, normalised
from shared.errors import PermanentError

# name → dimensions of the offline models this package provides.
OFFLINE_MODELS = {
    "wordllama-l2-supercat-256": 256,
    "wordllama-l2-supercat-128": 128,
    "wordllama-l2-supercat-64": 64,
}
BATCH = 64


class OfflineEmbeddings:
    name = "offline"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import wordllama  # imported on first use: numpy and the weights cost ~0.2 s

                folder = Path(wordllama.__file__).parent
                self._model = wordllama.WordLlama.load(config="l2_supercat", dim=256, cache_dir=folder,
                                                       disable_download=True)  # fmt: skip
            return self._model

    async def embed(self, model: EmbeddingModel, texts: Sequence[str]) -> Embeddings:
        dimensions = OFFLINE_MODELS.get(model.name)
        if dimensions is None or dimensions != model.dimensions:
            known = ", ".join(f"{n} ({d})" for n, d in OFFLINE_MODELS.items())
            raise PermanentError(f"the offline provider has no model {model.name} ({model.dimensions}); it has {known}")
        return await asyncio.to_thread(self.embed_now, model.name, dimensions, list(texts))

    def embed_now(self, name: str, dimensions: int, texts: list[str]) -> Embeddings:
        """Embed on the calling thread (the benchmark measures this)."""
        import numpy as np

        wl = self._load()
        vectors: list[list[float]] = []
        calls = []
        for start in range(0, len(texts), BATCH):
            batch = texts[start : start + BATCH]
            encoded = wl.tokenize(batch)
            ids = np.array([e.ids for e in encoded], dtype=np.int32)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
            np.clip(ids, 0, wl.embedding.shape[0] - 1, out=ids)
            tokens = wl.embedding[ids][:, :, :dimensions] * mask[:, :, None]
            counts = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
            pooled = tokens.sum(axis=1) / counts
            vectors += [normalised(row) for row in pooled.tolist()]
            calls.append(EmbeddingCall(name, len(batch), int(mask.sum())))
        return Embeddings(vectors, tuple(calls))

    async def aclose(self) -> None:
        return None
