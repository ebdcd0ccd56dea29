"""Embedding providers (an OpenAI-compatible API from recorded responses, the offline model from its wheel),
chunking, and image input in both LLM wire formats."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest

from shared.chunking import chunk_document, split_text
from shared.embeddings import Embedders, EmbeddingModel
from shared.embeddings.offline import OfflineEmbeddings
from shared.embeddings.openai_compat import OpenAICompatibleEmbeddings
from shared.errors import PermanentError, TransientError
from shared.llm import ChatMessage, ImageBlock, Prompt, TextBlock, Tool
from shared.llm.openai_compat import OpenAICompatibleProvider
from tests.llm.test_providers import AnthropicReplay, recorded

RECORDINGS = Path(__file__).parent / "recordings"
SMALL = EmbeddingModel(name="text-embedding-3-small", provider="openai", dimensions=3)
OFFLINE = EmbeddingModel(name="wordllama-l2-supercat-256", provider="offline", dimensions=256)
IMAGE = ImageBlock("image/png", b"\x89PNG fake bytes")
PHOTO = Prompt(
    model="claude-sonnet-4-5",
    messages=[ChatMessage("user", (IMAGE, TextBlock("Transcribe the notes.")))],
)
RECORD_NOTE = Tool("record_note", "Record the note.", {"type": "object", "properties": {"title": {"type": "string"}}})


def embeddings_server(*answers: tuple[int, bytes]) -> tuple[OpenAICompatibleEmbeddings, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = queue.pop(0)
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    return OpenAICompatibleEmbeddings("http://models.local/v1", "k", transport=httpx.MockTransport(handler)), seen


async def test_openai_compatible_embeddings_in_order_normalised_with_their_tokens() -> None:
    _, _, body = recorded("openai_embeddings.http")
    provider, seen = embeddings_server((200, body))
    result = await provider.embed(SMALL, ["first", "second"])
    assert result.vectors == [[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]]  # by index, at unit length
    assert [(c.model, c.texts, c.input_tokens) for c in result.calls] == [("text-embedding-3-small", 2, 7)]
    sent = json.loads(seen[0].content)
    assert sent == {"model": "text-embedding-3-small", "input": ["first", "second"], "encoding_format": "float"}
    assert seen[0].url.path == "/v1/embeddings" and seen[0].headers["authorization"] == "Bearer k"


async def test_openai_compatible_embeddings_errors() -> None:
    _, _, body = recorded("openai_embeddings.http")
    provider, _ = embeddings_server(
        (429, b'{"error": {"message": "slow down"}}'), (400, b'{"error": {"message": "no"}}')
    )
    with pytest.raises(TransientError, match="slow down"):
        await provider.embed(SMALL, ["a", "b"])
    with pytest.raises(PermanentError, match="no"):
        await provider.embed(SMALL, ["a", "b"])
    wrong, _ = embeddings_server((200, body))
    with pytest.raises(PermanentError, match="configured for 5"):
        await wrong.embed(SMALL.model_copy(update={"dimensions": 5}), ["a", "b"])


async def test_the_offline_model_ships_in_its_wheel_and_ranks_by_meaning() -> None:
    provider = OfflineEmbeddings()
    notes = ["Buy oat milk, eggs and spinach.", "Call the dentist to move my appointment.", "Lights out at ten."]
    result = await provider.embed(OFFLINE, ["what groceries do I need", *notes])
    query, *docs = result.vectors
    scores = [sum(a * b for a, b in zip(query, d, strict=True)) for d in docs]
    assert scores.index(max(scores)) == 0
    assert all(abs(sum(x * x for x in v) - 1) < 1e-4 for v in result.vectors)
    assert result.calls[0].input_tokens > 10
    short = await provider.embed(
        OFFLINE.model_copy(update={"name": "wordllama-l2-supercat-64", "dimensions": 64}), ["x"]
    )
    assert len(short.vectors[0]) == 64
    with pytest.raises(PermanentError, match="no model"):
        await provider.embed(OFFLINE.model_copy(update={"name": "minilm"}), ["x"])


async def test_a_model_of_a_provider_not_configured_is_refused_with_the_fix() -> None:
    embedders = Embedders.from_settings(None, None)
    with pytest.raises(PermanentError, match="COACHBASE_EMBEDDINGS_BASE_URL"):
        await embedders.embed(SMALL, ["x"])
    assert (await embedders.embed(SMALL, [])).vectors == []


def test_notes_are_chunked_by_blocks_and_text_at_sentences_with_overlap() -> None:
    document = {"blocks": [{"id": "a", "text": "Groceries"}, {"id": "b", "text": "Oat milk"}, {"id": "c", "text": ""}]}
    [chunk] = chunk_document(document)
    assert (chunk.content, chunk.metadata) == ("Groceries\nOat milk", {"block_ids": ["a", "b"]})
    text = " ".join(f"Sentence number {i} is here." for i in range(100))
    chunks = chunk_document({"text": text}, size=300, overlap=60)
    assert all(len(c.content) <= 300 for c in chunks) and len(chunks) > 5
    assert chunks[1].content.split("\n")[0] in chunks[0].content  # the overlap repeats the previous tail
    assert all(p.endswith(".") for p in split_text(text, 300)[:-1])  # cut at sentences
    assert split_text("x" * 250, 100) == ["x" * 100, "x" * 100, "x" * 50]
    assert chunk_document({"text": "  "}) == [] and chunk_document({}) == []


async def test_anthropic_sends_an_image_as_a_base64_block() -> None:
    replay = AnthropicReplay("anthropic_tool_use.http")
    await replay.provider().complete(PHOTO, RECORD_NOTE)
    [message] = json.loads(replay.requests[0].content)["messages"]
    assert message["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(IMAGE.data).decode()}},
        {"type": "text", "text": "Transcribe the notes."},
    ]  # fmt: skip


async def test_openai_compatible_sends_an_image_as_a_data_url_part() -> None:
    seen: list[httpx.Request] = []
    _, _, body = recorded("openai_tool_call.http")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    provider = OpenAICompatibleProvider("http://models.local/v1", "k", transport=httpx.MockTransport(handler))
    await provider.complete(PHOTO, RECORD_NOTE)
    [message] = json.loads(seen[0].content)["messages"]
    url = f"data:image/png;base64,{base64.b64encode(IMAGE.data).decode()}"
    assert message == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Transcribe the notes."},
            {"type": "image_url", "image_url": {"url": url}},
        ],
    }
