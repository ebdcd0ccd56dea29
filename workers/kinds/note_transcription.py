"""Job kind `note_transcription` (migration 20261208000400): a photo of handwritten notes becomes a note.

The claim names the scan and its object in the private `note-images` bucket; the worker downloads it
with the service role (Storage API), sends it to the model as image input with the prompt, and the model
calls `record_note` {title, text}. internal.note_transcription_finish writes the note (one BlockNote
block per line) and marks the scan done; a job that dies marks it failed with the reason. The offline
provider cannot read images: the scan fails at once, saying so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from uuid import UUID

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from storage3.exceptions import StorageApiError, StorageException

from shared.errors import PermanentError, TransientError
from shared.llm.base import ChatMessage, ImageBlock, TextBlock
from shared.models import Job
from shared.schema import tool_for
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, structured_output, template_prompt

SYSTEM = "You transcribe photos of handwritten notes. Answer only by calling the tool."
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
LARGEST = 5 * 1024 * 1024  # what the model APIs take per image (and the bucket's limit)


class TranscriptionPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    scan_id: UUID
    user_id: UUID


class TranscriptionContext(BaseModel):
    """internal.note_transcription_context."""

    model_config = ConfigDict(extra="ignore")

    scan: dict[str, Any]
    image: dict[str, Any]
    profile: dict[str, Any] | None = None
    prompt: dict[str, Any] | None = None


class Transcription(BaseModel):
    """The output: the note to write."""

    model_config = ConfigDict(extra="ignore")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="The notes' own heading, else a few words saying what they are."
    )
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)] = Field(
        description="The notes, one line per line or item: '# ' heading, '- [ ] ' to-do, '- ' bullet."
    )


TOOL = tool_for(Transcription, "record_note", "Record the transcription of the handwritten notes as a note.")


async def download(deps: Deps, image: dict[str, Any]) -> bytes:
    """The photo's bytes, with the worker's service role."""
    try:
        data = await deps.queue.client.storage.from_(str(image["bucket"])).download(str(image["name"]))
    except StorageApiError as exc:
        status = int(exc.status) if str(exc.status).isdigit() else 0
        if status == 404 or (400 <= status < 500 and status not in (408, 429)):
            raise PermanentError(f"the photo could not be read from Storage: {exc.message}") from exc
        raise TransientError(f"Storage: {exc.message}") from exc
    except (StorageException, httpx.TransportError) as exc:
        raise TransientError(f"Storage unreachable: {exc!r}") from exc
    return bytes(data)


def handler(deps: Deps) -> Handler:
    async def transcribe(job: Job, ctx: JobContext) -> Finished:
        TranscriptionPayload.model_validate(job.payload)
        context = TranscriptionContext.model_validate(job.context)
        if deps.provider.name == "offline":
            raise PermanentError("no language model is configured, and the offline coach cannot read images")
        media_type = str(context.image.get("mimetype") or "")
        if media_type not in IMAGE_TYPES:
            raise PermanentError(f"a {media_type or 'file of unknown type'} is not a photo the model can read")
        data = await download(deps, context.image)
        if len(data) > LARGEST:
            raise PermanentError(f"the photo is {len(data)} bytes; at most {LARGEST} can be read")
        values = {
            "hint": str(context.scan.get("hint") or "") or "(nothing)",
            "locale": str((context.profile or {}).get("locale") or "en"),
        }
        prompt, version = template_prompt(context.prompt, values, deps.analysis_model, SYSTEM)
        instruction = prompt.messages[0].text
        prompt = replace(prompt, messages=[ChatMessage("user", (ImageBlock(media_type, data), TextBlock(instruction)))])
        return await structured_output(deps.provider, prompt, version, TOOL, Transcription)

    return transcribe


SPEC = KindSpec(
    name="note_transcription",
    prompt_kind="note_transcription",
    streams=False,
    payload=TranscriptionPayload,
    context=TranscriptionContext,
    output=Transcription,
    handler=handler,
)
