"""Knowledge in a coach's reply: sources retrieved for the user's message, the search tool's query
embeddings, and the citations the reply ends up with (migration 20261208000300_second_brain).

A coach with retrieval on (internal.settings `reply.retrieval`, by coach slug) gets, for each user
message, the best chunks of what the user may read: the worker embeds the message with the serving model
and `retrieve_for_reply_v1` searches as the user (RLS decides) and numbers them as the reply's sources
[1..n] (the same ones again for a reply taken over). The `search_knowledge` tool runs in SQL as the user
and cannot call a model, so before a step's calls run the worker embeds their queries and puts them with
`put_query_embeddings_v1`; the tool's results are numbered after the sources the reply has. The model
cites [n]; the reply's citations are the sources its final text cites, in order.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.embeddings import Embedders, EmbeddingModel
from shared.errors import CoachbaseError
from shared.llm.base import ToolUse, Usage
from workers.agent import Step, StoredCall
from workers.kinds.base import ModelCall
from workers.queue import JobQueue

log = logging.getLogger("workers.knowledge")

SEARCH_TOOL = "search_knowledge"
CITATION = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
EXCERPT = 700  # characters of a source the prompt shows


class RetrievalSettings(BaseModel):
    """A coach's entry in reply.retrieval."""

    model_config = ConfigDict(extra="ignore")

    count: int = Field(default=6, ge=1, le=20)
    sources: list[str] | None = None
    include_shared: bool = True


class Source(BaseModel):
    """A numbered source of a reply (internal.reply_sources, or a search_knowledge result)."""

    model_config = ConfigDict(extra="ignore")

    ref: int
    chunk_id: str | None = None
    source: str
    source_id: str
    title: str = ""
    excerpt: str = ""

    def citation(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def retrieval_settings(settings: dict[str, Any], coach_slug: str | None) -> RetrievalSettings | None:
    """The coach's retrieval settings, or None when its replies do not retrieve."""
    entry = (settings.get("reply.retrieval") or {}).get(coach_slug or "") if coach_slug else None
    if not isinstance(entry, dict):
        return None
    try:
        return RetrievalSettings.model_validate(entry)
    except ValidationError as exc:
        log.warning("invalid reply.retrieval entry: not retrieving", extra={"coach": coach_slug, "error": str(exc)})
        return None


def serving_model(settings: dict[str, Any]) -> EmbeddingModel | None:
    raw = settings.get("knowledge.embedding_model")
    try:
        return EmbeddingModel.model_validate(raw) if isinstance(raw, dict) else None
    except ValidationError:
        return None


def render_sources(sources: list[Source]) -> str:
    """The sources as the prompt shows them ({{knowledge}})."""
    if not sources:
        return "None found for this message."
    lines = []
    for s in sources:
        excerpt = " ".join(s.excerpt.split())
        excerpt = excerpt if len(excerpt) <= EXCERPT else excerpt[: EXCERPT - 1] + "…"
        lines.append(f"[{s.ref}] {s.title} ({s.source}): {excerpt}")
    return "\n".join(lines)


def cited_refs(text: str) -> list[int]:
    """The source numbers a text cites as [n] or [n, m], in order of first mention."""
    refs: list[int] = []
    for group in CITATION.findall(text):
        for number in group.split(","):
            ref = int(number)
            if ref not in refs:
                refs.append(ref)
    return refs


@dataclass
class ReplyKnowledge:
    """One reply's sources and the embedding calls made for them."""

    embedders: Embedders
    queue: JobQueue
    job_id: int
    model: EmbeddingModel | None
    sources: dict[int, Source] = field(default_factory=dict)
    calls: list[ModelCall] = field(default_factory=list)

    async def retrieve(self, query: str, settings: RetrievalSettings) -> list[Source]:
        """Sources for the user's message, searched as the user (numbered once per reply). Without an
        embedding (the embedding API is down) the search goes by words alone rather than fail the reply."""
        embedding = None
        if self.model is not None:
            try:
                embedding = await self._embed(query)
            except CoachbaseError as exc:
                log.warning("query not embedded: searching by words", extra={"job_id": self.job_id, "error": str(exc)})
        rows = await self.queue.rpc(
            "retrieve_for_reply_v1",
            {
                "p_job_id": self.job_id,
                "p_worker": self.queue.worker_id,
                "p_query": query,
                "p_embedding": embedding,
                "p_model": self.model.name if self.model is not None else None,
                "p_options": settings.model_dump(),
            },
        )
        self.add(Source.model_validate(row) for row in rows or [])
        return sorted(self.sources.values(), key=lambda s: s.ref)

    async def before_tools(self, calls: Iterable[ToolUse | StoredCall]) -> None:
        """Put the embeddings of the search queries of calls about to run, for the search tool to use."""
        queries = sorted(
            {
                str(c.input.get("query"))
                for c in calls
                if c.name == SEARCH_TOOL and isinstance(c.input.get("query"), str)
            }
        )
        if not queries or self.model is None:
            return
        try:
            vectors = await self._embed_many(queries)
        except CoachbaseError as exc:  # the tool then searches by words alone
            log.warning("search queries not embedded", extra={"job_id": self.job_id, "error": str(exc)})
            return
        items = [{"model": self.model.name, "query": q, "embedding": v} for q, v in zip(queries, vectors, strict=True)]
        await self.queue.rpc(
            "put_query_embeddings_v1", {"p_job_id": self.job_id, "p_worker": self.queue.worker_id, "p_items": items}
        )

    def after_tools(self, step: Step) -> None:
        """Take the numbered results of the step's search calls as sources of the reply."""
        for call in step.calls:
            if call.name != SEARCH_TOOL or call.is_error or not isinstance(call.result, dict):
                continue
            for result in call.result.get("results") or []:
                if isinstance(result, dict) and isinstance(result.get("ref"), int):
                    self.add([Source.model_validate({**result, "excerpt": result.get("text") or ""})])

    def add(self, sources: Any) -> None:
        for source in sources:
            self.sources.setdefault(source.ref, source)

    def citations(self, text: str) -> list[dict[str, Any]]:
        """The sources the reply's text cites, in order of first mention (unknown numbers are dropped)."""
        return [self.sources[ref].citation() for ref in cited_refs(text) if ref in self.sources]

    async def _embed(self, text: str) -> list[float]:
        return (await self._embed_many([text]))[0]

    async def _embed_many(self, texts: list[str]) -> list[list[float]]:
        assert self.model is not None
        embedded = await self.embedders.embed(self.model, texts)
        self.calls += [ModelCall(c.model, "-", Usage(input_tokens=c.input_tokens)) for c in embedded.calls]
        return embedded.vectors
