"""Job kind `journey_report` (migration 20261207000600): a report on a child's journey, content and PDF.

The model writes the content through `record_report` (schema generated from `ReportContent`, re-asked once
when invalid); typst renders it (shared/report_pdf.py: right to left for Hebrew, Arabic, ...); the PDF is
uploaded with the service role to child-reports/<child_id>/<report_id>.pdf (replaced when a retried job
renders it again); the finish function stores the content and the path.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.models import Job
from shared.prompts import data_block, data_or
from shared.report_pdf import ReportPage, render
from shared.schema import tool_for
from workers import files
from workers.kinds.base import Deps, Finished, Handler, JobContext, KindSpec, dump, tool_output
from workers.kinds.child_files import FilePayload, Line, Summary, picture_prompt

BUCKET = "child-reports"


Heading = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=160)]
Disclaimer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=600)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class ReportSection(BaseModel):
    model_config = ConfigDict(extra="ignore")

    heading: Heading
    body: Body
    points: list[Line] = Field(default_factory=list, max_length=8)


class ReportContent(BaseModel):
    """What the model writes (stored as reports.content, rendered to the PDF)."""

    model_config = ConfigDict(extra="ignore")

    title: Title
    summary: Summary = Field(description="What the report says, in a few sentences.")
    sections: list[ReportSection] = Field(min_length=1, max_length=8)
    strengths: list[Line] = Field(default_factory=list, max_length=8)
    recommendations: list[Line] = Field(default_factory=list, max_length=10)
    questions_for_professionals: list[Line] = Field(default_factory=list, max_length=10)
    disclaimer: Disclaimer = Field(description="That the report describes observations and is not a diagnosis.")


class ReportPayload(FilePayload):
    report_id: str


class ReportContext(BaseModel):
    model_config = ConfigDict(extra="ignore")

    report: dict[str, Any] | None = None  # null once the report was deleted
    child: dict[str, Any] | None = None
    journey: dict[str, Any] | None = None
    documents: list[dict[str, Any]] = Field(default_factory=list)
    videos: list[dict[str, Any]] = Field(default_factory=list)
    journal: list[dict[str, Any]] = Field(default_factory=list)
    prompt: dict[str, Any] | None = None


class JourneyReport(BaseModel):
    """The output: the content and where its PDF is, or why it could not be written."""

    model_config = ConfigDict(extra="ignore")

    content: ReportContent | None = None
    storage_path: str | None = None
    error: str | None = Field(default=None, max_length=1000)
    skipped: bool = False


TOOL = tool_for(ReportContent, "record_report", "Record the report's content.")


def values(context: ReportContext) -> dict[str, str]:
    report = context.report or {}
    return {
        "variant": str(report.get("variant") or "parent"),
        "language": str(report.get("language") or "en"),
        "focus": data_or("focus", report.get("focus"), "Nothing in particular."),
        "child": data_block("child", dump(context.child)),
        "journey": data_block("journey", dump(context.journey)),
        "documents": data_block("documents", dump(context.documents)) if context.documents else "None analysed yet.",
        "videos": data_block("videos", dump(context.videos)) if context.videos else "None analysed yet.",
        "journal": data_block("journal", dump(context.journal)) if context.journal else "No entries yet.",
    }


def page(context: ReportContext) -> ReportPage:
    report, child = context.report or {}, context.child or {}
    age = child.get("age_months")
    return ReportPage(
        child=str(child.get("name") or ""),
        age_months=age if isinstance(age, int) else None,
        variant=str(report.get("variant") or "parent"),
        language=str(report.get("language") or "en"),
        date=datetime.now(UTC).date().isoformat(),
    )


def handler(deps: Deps) -> Handler:
    async def write(job: Job, ctx: JobContext) -> Finished:
        payload = ReportPayload.model_validate(job.payload)
        context = ReportContext.model_validate(job.context)
        if context.report is None:
            return Finished(JourneyReport(skipped=True))
        prompt, version = picture_prompt(context.prompt, values(context), deps.analysis_model, [])
        result, calls = await tool_output(deps.provider, prompt, version, TOOL, ReportContent)
        pdf = await asyncio.to_thread(render, result.value.model_dump(mode="json"), page(context))
        path = await files.upload(
            ctx.queue.client, BUCKET, f"{payload.child_id}/{payload.report_id}.pdf", pdf, "application/pdf"
        )
        return Finished(JourneyReport(content=result.value, storage_path=path), calls)

    return write


SPEC = KindSpec(
    name="journey_report",
    prompt_kind="journey_report",
    streams=False,
    payload=ReportPayload,
    context=ReportContext,
    output=JourneyReport,
    handler=handler,
)
