"""Reports: a caregiver asks, a worker writes the content (recorded model answers) and renders the PDF, members
download it through a short-lived signed URL, and its text reads right: Hebrew right to left."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from postgrest.exceptions import APIError
from pypdf import PdfReader
from storage3.exceptions import StorageApiError

from shared.report_pdf import ReportPage, render
from tests.children.conftest import Family, Member
from tests.conftest import Stack
from tests.waiting import wait_until
from tests.workers.conftest import WorkerProcess


def words(pdf: bytes) -> list[tuple[str, float, float]]:
    """Every piece of text on the first page with its position (x, y), as a PDF reader places it."""
    found: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: Any) -> None:
        if text.strip():
            found.append((text.strip(), tm[4] + cm[4], tm[5] + cm[5]))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


def line_of(pdf: bytes, word: str, *, rtl: bool) -> str:
    """The line holding `word`, its pieces in reading order: right to left for RTL text."""
    pieces = words(pdf)
    y = next(y for text, _, y in pieces if word in text)
    line = sorted(((x, text) for text, x, top in pieces if abs(top - y) < 1), reverse=rtl)
    return " ".join(" ".join(text.split()) for _, text in line)


async def ask(member: Member, child_id: str, **row: Any) -> str:
    inserted = await member.client.table("reports").insert({"child_id": child_id, **row}).execute()
    return str(inserted.data[0]["id"])


async def ready(member: Member, report_id: str) -> dict[str, Any]:
    async def done() -> bool:
        rows = (await member.client.table("reports").select("status").eq("id", report_id).execute()).data
        return bool(rows) and rows[0]["status"] in ("ready", "error")

    await wait_until(done, 45, "the report")
    return dict((await member.client.table("reports").select("*").eq("id", report_id).single().execute()).data)


async def download(member: Member, stack: Stack, path: str) -> bytes:
    signed = await member.client.storage.from_("child-reports").create_signed_url(path, 60)
    url = signed["signedURL"]
    async with httpx.AsyncClient() as http:  # no Authorization: the signed URL alone
        response = await http.get(url if url.startswith("http") else f"{stack.api_url}/storage/v1{url}")
    response.raise_for_status()
    return response.content


async def test_a_hebrew_parent_report_is_written_rendered_right_to_left_and_downloaded(
    family: Family, stack: Stack, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    report_id = await ask(
        family.caregiver, family.child_id, variant="parent", language="he",
        focus="דיבור [[replay:anthropic_report_parent_he]]",
    )  # fmt: skip
    report = await ready(family.viewer, report_id)
    assert report["status"] == "ready", report
    assert report["content"]["title"] == "המסע של נועה עד עכשיו"
    assert report["storage_path"] == f"{family.child_id}/{report_id}.pdf"

    pdf = await download(family.viewer, stack, report["storage_path"])
    assert pdf.startswith(b"%PDF-")
    # The title reads right to left: its first word is the rightmost, each word in logical letter order.
    assert line_of(pdf, "המסע", rtl=True) == "המסע של נועה עד עכשיו"
    assert line_of(pdf, "חוזקות", rtl=True) == "חוזקות"  # the labels are Hebrew too
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    for phrase in ("תקשורת", "קלינאית", "אבחנה"):  # words: a reader orders RTL words visually
        assert phrase in text

    with pytest.raises(StorageApiError):  # a stranger cannot even mint the URL
        await family.stranger.client.storage.from_("child-reports").create_signed_url(report["storage_path"], 60)
    with pytest.raises(APIError) as viewer:
        await ask(family.viewer, family.child_id)
    assert viewer.value.code == "42501"
    with pytest.raises(StorageApiError):  # only workers write reports
        await family.owner.client.storage.from_("child-reports").upload(
            f"{family.child_id}/fake.pdf", pdf, {"content-type": "application/pdf"}
        )


async def test_a_professional_report_in_english(
    family: Family, stack: Stack, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    report_id = await ask(
        family.owner, family.child_id, variant="professional", focus="[[replay:anthropic_report_professional_en]]"
    )
    report = await ready(family.owner, report_id)
    assert report["status"] == "ready", report
    pdf = await download(family.owner, stack, report["storage_path"])
    assert line_of(pdf, "Developmental", rtl=False) == "Developmental summary: Noa, 30 months"
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Report for professionals" in text and "Questions for the professionals" in text


def test_a_report_in_arabic_is_laid_out_right_to_left_and_markup_stays_text() -> None:
    content = {
        "title": "رحلة نوعا #set text(size: 40pt)",
        "summary": "ملخص قصير *ليس غامقا*",
        "sections": [{"heading": "التواصل", "body": "تفهم نوعا التعليمات", "points": []}],
        "disclaimer": "هذا التقرير ليس تشخيصا.",
    }
    pdf = render(content, ReportPage("نوعا", 30, "parent", "ar", "2026-12-07"))
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "set text(size: 40pt)" in text and text.count("*") == 2  # shown as written, not obeyed
    label = [x for piece, x, _ in words(pdf) if "للعائلة" in piece]
    assert label and label[0] > 300  # the variant label sits at the right margin
