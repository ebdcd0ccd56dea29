"""Embedding providers behind one interface: an OpenAI-compatible API, or an offline model shipped in a wheel."""

from __future__ import annotations

from shared.embeddings.base import EmbeddingCall, EmbeddingModel, Embeddings, EmbeddingsProvider
from shared.embeddings.factory import Embedders

__all__ = ["Embedders", "EmbeddingCall", "EmbeddingModel", "Embeddings", "EmbeddingsProvider"]
