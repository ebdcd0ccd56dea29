"""Job kind `document_analysis` (migration 20261207000400): a child's document becomes structured observations.

The file is downloaded with the service role and its bytes are checked against what its row claims (type,
size); a PDF is read for its text (pypdf), an image is decoded and shown to the model. The model answers
through `record_document_analysis`, whose schema is generated from `DocumentFindings` (re-asked once when
invalid). A file that is not what it claims, too large or unreadable is no retry: the output carries the
reason and the document ends in status `error`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.files import FileProblem, check, image_for_model, pdf_text
from shared.llm.base import ImageBlock
from shared.models import Job
from shared.prompts import data_block, one_line
from shared.schema import tool_for
from workers import files
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, tool_output
from workers.kinds.child_files import (
    FileContext,
    FilePayload,
    Line,
    Observation,
    Specialty,
    Summary,
    child_value,
    picture_prompt,
)

log = logging.getLogger("workers.kinds.document_analysis")
BUCKET = "child-documents"


class DocumentPayload(FilePayload):
    document_id: str


class DocumentContext(FileContext):
    document: dict[str, Any] | None = None  # null once the document was deleted


class DocumentFindings(BaseModel):
    """What the model records about a document (stored as documents.analysis)."""

    model_config = ConfigDict(extra="ignore")

    summary: Summary = Field(description="Two to four sentences for the parents, in their language.")
    document_kind: Literal["diagnosis", "report", "medical", "other"]
    language: str = Field(min_length=2, max_length=12, description="The document's language, ISO 639-1 (he, en, ...).")
    observations: list[Observation] = Field(default_factory=list, max_length=15)
    recommendations_in_document: list[Line] = Field(default_factory=list, max_length=10)
    specialties_to_consult: list[Specialty] = Field(default_factory=list, max_length=5)


class DocumentAnalysis(BaseModel):
    """The output: the findings (with what was read), or why the file could not be analysed."""

    model_config = ConfigDict(extra="ignore")

    findings: DocumentFindings | None = None
    pages: int | None = None
    characters: int | None = None
    # The text read from a PDF (null for a picture): stored with the analysis, so the child's members can
    # search the document's own words (documents.text_content).
    text: str | None = None
    error: str | None = Field(default=None, max_length=1000)
    skipped: bool = False


TOOL = tool_for(DocumentFindings, "record_document_analysis", "Record what the document says about the child.")


async def read(data: bytes, context: DocumentContext) -> tuple[str, list[ImageBlock], int | None, int | None]:
    """The document for the model: (text for the prompt, pictures, pages, characters)."""
    document = context.document or {}
    actual = check(data, str(document.get("mime_type")), context.limit("max_bytes", 20 * 1048576))
    if actual == "application/pdf":
        text = await asyncio.to_thread(
            pdf_text, data, context.limit("max_pages", 40), context.limit("max_characters", 60000)
        )
        note = f"\n\n(Only the first {text.read_pages} of {text.pages} pages were read.)" if text.truncated else ""
        return text.text + note, [], text.pages, len(text.text)
    image = await asyncio.to_thread(image_for_model, data)
    return "(The document is the image attached below.)", [image], None, None


def handler(deps: Deps) -> Handler:
    async def analyse(job: Job, ctx: JobContext) -> Finished:
        DocumentPayload.model_validate(job.payload)
        context = DocumentContext.model_validate(job.context)
        document = context.document
        if document is None:
            return Finished(DocumentAnalysis(skipped=True))
        data = await files.download(ctx.queue.client, BUCKET, str(document["storage_path"]))
        try:
            content, images, pages, characters = await read(data, context)
        except FileProblem as problem:
            log.info("document refused", extra={"job_id": job.id, "reason": str(problem)})
            return Finished(DocumentAnalysis(error=str(problem)))
        values = {
            "child": child_value(context),
            "document_type": str(document.get("type") or "other"),
            "filename": one_line(str(document.get("filename") or ""), 255),
            "content": data_block("document", content) if not images else content,
            "locale": context.locale,
        }
        prompt, version = picture_prompt(context.prompt, values, deps.analysis_model, images)
        result, calls = await tool_output(deps.provider, prompt, version, TOOL, DocumentFindings)
        text = None if images else content
        return Finished(DocumentAnalysis(findings=result.value, pages=pages, characters=characters, text=text), calls)

    return analyse


SPEC = KindSpec(
    name="document_analysis",
    prompt_kind="document_analysis",
    streams=False,
    payload=DocumentPayload,
    context=DocumentContext,
    output=DocumentAnalysis,
    handler=handler,
)
