"""Job kinds `knowledge_embedding` and `knowledge_reindex` (migration 20261208000000): chunks and embeddings.

`knowledge_embedding` runs after a searchable row (a note, a reflection, a guideline, ...) is inserted or
updated: the claim brings the row as a document, its hash and the models to embed with (the serving
one, and during a model switch the one being built); a row whose text has not changed since it was
embedded is skipped without a model call. The output carries the chunks and one list of vectors per model;
internal.knowledge_embedding_finish replaces the row's chunks in one transaction. `knowledge_reindex`
embeds batches of rows with a new model until every row has it, then the model serves.

No prompt and no LLM: each embedding request is one `ModelCall` (the model, prompt version "-", its
input tokens), so the usage ledger shows what embedding cost.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.chunking import chunk_document
from shared.embeddings import Embedders, EmbeddingModel
from shared.llm.base import Usage
from shared.models import Job
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, ModelCall


class EmbeddingPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source: str
    source_id: UUID
    user_id: UUID | None = None


class EmbeddingContext(BaseModel):
    """internal.knowledge_embedding_context."""

    model_config = ConfigDict(extra="ignore")

    document: dict[str, Any] | None = None
    content_hash: str | None = None
    models: list[EmbeddingModel] = Field(default_factory=list)
    indexed: dict[str, str] = Field(default_factory=dict)
    chunk_characters: int = 900
    chunk_overlap: int = 120


class ModelVectors(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    vectors: list[list[float]]


class EmbeddingOutput(BaseModel):
    """The row's chunks and their vectors per model; `skipped` when nothing changed."""

    model_config = ConfigDict(extra="ignore")

    skipped: bool = False
    content_hash: str | None = None
    chunks: list[dict[str, Any]] = Field(default_factory=list)
    embeddings: list[ModelVectors] = Field(default_factory=list)


def embedding_text(title: str, content: str) -> str:
    """What is embedded for a chunk: its row's title gives the chunk its context."""
    return f"{title}\n{content}" if title else content


def model_calls(calls: Any) -> tuple[ModelCall, ...]:
    return tuple(ModelCall(c.model, "-", Usage(input_tokens=c.input_tokens)) for c in calls)


async def embed_document(
    embedders: Embedders, document: dict[str, Any], models: list[EmbeddingModel], size: int, overlap: int
) -> tuple[list[dict[str, Any]], list[ModelVectors], tuple[ModelCall, ...]]:
    """Chunk a document and embed its chunks with each model: (chunks, vectors per model, calls)."""
    chunks = chunk_document(document, size, overlap)
    title = str(document.get("title") or "")
    texts = [embedding_text(title, c.content) for c in chunks]
    vectors: list[ModelVectors] = []
    calls: tuple[ModelCall, ...] = ()
    for model in models:
        embedded = await embedders.embed(model, texts)
        vectors.append(ModelVectors(model=model.name, vectors=embedded.vectors))
        calls += model_calls(embedded.calls)
    return [c.as_json() for c in chunks], vectors, calls


def handler(deps: Deps) -> Handler:
    async def embed(job: Job, ctx: JobContext) -> Finished:
        EmbeddingPayload.model_validate(job.payload)
        context = EmbeddingContext.model_validate(job.context)
        if context.document is None:  # gone or no longer searchable: the finish removes its chunks
            return Finished(EmbeddingOutput())
        stale = [m for m in context.models if context.indexed.get(m.name) != context.content_hash]
        if not stale:
            return Finished(EmbeddingOutput(skipped=True, content_hash=context.content_hash))
        chunks, vectors, calls = await embed_document(
            deps.embedders, context.document, stale, context.chunk_characters, context.chunk_overlap
        )
        return Finished(EmbeddingOutput(content_hash=context.content_hash, chunks=chunks, embeddings=vectors), calls)

    return embed


SPEC = KindSpec(
    name="knowledge_embedding",
    prompt_kind=None,
    streams=False,
    payload=EmbeddingPayload,
    context=EmbeddingContext,
    output=EmbeddingOutput,
    handler=handler,
)


# -----------------------------------------------------------------------------------------------------
# knowledge_reindex
# -----------------------------------------------------------------------------------------------------
class ReindexPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str


class ReindexContext(BaseModel):
    """internal.knowledge_reindex_context."""

    model_config = ConfigDict(extra="ignore")

    model: EmbeddingModel | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)
    chunk_characters: int = 900
    chunk_overlap: int = 120


class ReindexOutput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    items: list[dict[str, Any]] = Field(default_factory=list)


def reindex_handler(deps: Deps) -> Handler:
    async def reindex(job: Job, ctx: JobContext) -> Finished:
        ReindexPayload.model_validate(job.payload)
        context = ReindexContext.model_validate(job.context)
        if context.model is None:
            return Finished(ReindexOutput())
        items: list[dict[str, Any]] = []
        calls: tuple[ModelCall, ...] = ()
        for item in context.items:
            entry = {k: item.get(k) for k in ("source", "source_id", "content_hash")}
            document = item.get("document")
            if isinstance(document, dict):
                chunks, vectors, made = await embed_document(
                    deps.embedders, document, [context.model], context.chunk_characters, context.chunk_overlap
                )
                entry |= {"chunks": chunks, "vectors": vectors[0].vectors}
                calls += made
            items.append(entry)
        return Finished(ReindexOutput(items=items), calls)

    return reindex


REINDEX_SPEC = KindSpec(
    name="knowledge_reindex",
    prompt_kind=None,
    streams=False,
    payload=ReindexPayload,
    context=ReindexContext,
    output=ReindexOutput,
    handler=reindex_handler,
)
