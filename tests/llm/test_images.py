"""Pictures in a prompt (a document's scan, a video's frames) on the wire, against recorded responses: the
Messages API's base64 image blocks, Chat Completions' data-URL image parts, and the offline provider."""

from __future__ import annotations

import base64
import json

from shared.llm import ChatMessage, ImageBlock, Prompt, SystemBlock, TextBlock, Tool
from shared.llm.offline import OfflineProvider
from tests.llm.test_providers import AnthropicReplay, openai_provider

PIXEL = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////////////////////////////////////////////////////////////////wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACv/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AN//Z"
)
PROMPT = Prompt(
    model="claude-haiku-4-5",
    system=[SystemBlock("Answer only by calling the tool.")],
    messages=[ChatMessage("user", (TextBlock("What does this document say?"), ImageBlock("image/jpeg", PIXEL)))],
)
TOOL = Tool(
    "record_document_analysis",
    "Record what the document says.",
    {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]},
)


async def test_anthropic_sends_pictures_as_base64_image_blocks_after_the_text() -> None:
    replay = AnthropicReplay("anthropic_document_analysis.http")
    completion = await replay.provider().complete(PROMPT, TOOL)
    assert completion.tool_input is not None and completion.tool_input["document_kind"] == "report"
    [turn] = json.loads(replay.requests[0].content)["messages"]
    assert turn["role"] == "user"
    assert turn["content"] == [
        {"type": "text", "text": "What does this document say?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(PIXEL).decode()},
        },
    ]


async def test_openai_compatible_sends_pictures_as_data_url_parts() -> None:
    provider, seen = openai_provider("openai_tool_call.http")
    completion = await provider.complete(PROMPT, TOOL)
    assert completion.tool_input == {"summary": "Sleep improved", "focus": "evening routine"}
    user = json.loads(seen[0].content)["messages"][1]
    assert user == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What does this document say?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(PIXEL).decode()}},
        ],
    }
    await provider.aclose()


async def test_offline_provider_takes_pictures_without_looking() -> None:
    completion = await OfflineProvider(chunk_delay=0).complete(PROMPT, TOOL)
    assert completion.tool_input == {"summary": "[offline] summary"}
    assert completion.usage.input_tokens > 0
