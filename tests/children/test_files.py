"""A child's documents and videos, with the official client: Storage under the membership helper, and the
analyses by a real worker against recorded model responses (a PDF's text, an image, a video's frames);
files that are not what they claim or cannot be read end in a clear `error`."""

from __future__ import annotations

import io
import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import typst
from PIL import Image
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError

from shared.video import ffmpeg
from tests.children.conftest import Family, Member
from tests.waiting import wait_until
from tests.workers.conftest import WorkerProcess

DOCUMENTS, VIDEOS = "child-documents", "child-videos"
ASSESSMENT = """Child development clinic: speech and language assessment
[[replay:anthropic_document_analysis]]
Noa follows two-step instructions. Expressive vocabulary of about 20 words.
Good eye contact, enjoys shared play. Recommendation: speech therapy twice a month.
"""


def pdf(text: str) -> bytes:
    source = "#set page(width: 12cm, height: auto, margin: 1cm)\n" + "\n\n".join(
        f"#text({json.dumps(line)})" for line in text.strip().splitlines()
    )
    return bytes(typst.compile(source.encode(), ignore_system_fonts=True))


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


def mp4(folder: Path, seconds: int = 3) -> bytes:
    path = folder / "clip.mp4"
    subprocess.run(
        [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc=duration={seconds}:size=320x240:rate=10", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


async def upload(member: Member, bucket: str, path: str, data: bytes, content_type: str) -> None:
    await member.client.storage.from_(bucket).upload(path, data, {"content-type": content_type})


async def add_document(member: Member, child_id: str, data: bytes, mime: str, filename: str, **row: Any) -> str:
    path = f"{child_id}/{uuid.uuid4()}{Path(filename).suffix}"
    await upload(member, DOCUMENTS, path, data, mime)
    fields = {
        "child_id": child_id,
        "filename": filename,
        "storage_path": path,
        "mime_type": mime,
        "size_bytes": len(data),
    }
    inserted = await member.client.table("documents").insert({**fields, **row}).execute()
    return str(inserted.data[0]["id"])


async def settled(member: Member, table: str, row_id: str) -> dict[str, Any]:
    async def done() -> bool:
        rows = (await member.client.table(table).select("status").eq("id", row_id).execute()).data
        return bool(rows) and rows[0]["status"] in ("analyzed", "error")

    await wait_until(done, 45, f"the {table} analysis")
    return dict((await member.client.table(table).select("*").eq("id", row_id).single().execute()).data)


async def structured_requests(fake_llm: str, tool: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        logged = (await http.get(f"{fake_llm}/_requests", params={"full": "1"})).json()
    return [e["body"] for e in logged if e["kind"] == "structured" and e["body"]["tool_choice"].get("name") == tool]


async def test_storage_follows_membership(family: Family) -> None:
    path = f"{family.child_id}/letter.pdf"
    await upload(family.caregiver, DOCUMENTS, path, pdf("A letter"), "application/pdf")
    assert (await family.viewer.client.storage.from_(DOCUMENTS).download(path)).startswith(b"%PDF-")
    for outsider, where in ((family.stranger, family.child_id), (family.viewer, family.child_id)):
        with pytest.raises(StorageApiError):  # the stranger sees nothing; a viewer uploads nothing
            await upload(outsider, DOCUMENTS, f"{where}/mine.pdf", pdf("Mine"), "application/pdf")
    with pytest.raises(StorageApiError) as hidden:
        await family.stranger.client.storage.from_(DOCUMENTS).download(path)
    assert str(hidden.value.status) == "404"
    with pytest.raises(StorageApiError):  # a path outside any child's folder is nobody's
        await upload(family.owner, DOCUMENTS, f"{uuid.uuid4()}/x.pdf", pdf("X"), "application/pdf")
    with pytest.raises(StorageApiError) as wrong_type:  # the bucket's type limit
        await upload(family.owner, DOCUMENTS, f"{family.child_id}/notes.txt", b"hello", "text/plain")
    assert "mime type" in wrong_type.value.message.lower()
    with pytest.raises(StorageApiError) as too_large:  # the bucket's size limit (20 MiB)
        await upload(
            family.owner, DOCUMENTS, f"{family.child_id}/huge.pdf", b"%PDF-" + bytes(21 * 1048576), "application/pdf"
        )
    assert "size" in too_large.value.message.lower()

    # Removed: the caregiver's next request gets nothing.
    await family.owner.client.table("child_members").delete().eq("user_id", family.caregiver.user_id).execute()
    with pytest.raises(StorageApiError):
        await family.caregiver.client.storage.from_(DOCUMENTS).download(path)
    signed = family.owner.client.storage.from_(DOCUMENTS).create_signed_url(path, 60)
    assert (await signed)["signedURL"]


async def test_a_childs_files_take_no_signed_upload_url(family: Family) -> None:
    """Used, a signed upload URL writes without a policy check, for two hours: a caregiver removed meanwhile
    could still overwrite the child's files. Members upload with their own token, checked every time."""
    for bucket in (DOCUMENTS, "child-videos"):
        with pytest.raises(StorageApiError):
            await family.caregiver.client.storage.from_(bucket).create_signed_upload_url(f"{family.child_id}/later.pdf")
    await upload(family.caregiver, DOCUMENTS, f"{family.child_id}/now.pdf", pdf("Now"), "application/pdf")


async def test_a_row_needs_its_file_and_only_caregivers_add_one(family: Family) -> None:
    with pytest.raises(APIError) as missing:
        await family.owner.client.table("documents").insert(
            {"child_id": family.child_id, "filename": "x.pdf", "storage_path": f"{family.child_id}/nothing.pdf",
             "mime_type": "application/pdf", "size_bytes": 10}
        ).execute()  # fmt: skip
    assert "upload the file first" in missing.value.message
    path = f"{family.child_id}/viewer.pdf"
    await upload(family.owner, DOCUMENTS, path, pdf("Viewer"), "application/pdf")
    with pytest.raises(APIError) as viewer:
        await family.viewer.client.table("documents").insert(
            {"child_id": family.child_id, "filename": "v.pdf", "storage_path": path, "mime_type": "application/pdf",
             "size_bytes": 10}
        ).execute()  # fmt: skip
    assert viewer.value.code == "42501"
    # A stranger is refused by the policy whether or not the file exists: the error tells nothing of the
    # child's folder.
    for stranger_path in (path, f"{family.child_id}/nothing.pdf"):
        with pytest.raises(APIError) as stranger:
            await family.stranger.client.table("documents").insert(
                {"child_id": family.child_id, "filename": "s.pdf", "storage_path": stranger_path,
                 "mime_type": "application/pdf", "size_bytes": 10}
            ).execute()  # fmt: skip
        assert stranger.value.code == "42501", stranger_path


async def test_a_pdf_and_an_image_are_analysed_into_observations(
    family: Family, start_worker: Callable[..., WorkerProcess], fake_llm: str, admin: asyncpg.Connection
) -> None:
    start_worker()
    caregiver, child = family.caregiver, family.child_id
    document = await add_document(caregiver, child, pdf(ASSESSMENT), "application/pdf", "assessment.pdf", type="report")
    marked = "letter [[replay:anthropic_document_analysis]].png"
    scan = await add_document(caregiver, child, png(), "image/png", marked, type="medical")
    row = await settled(family.viewer, "documents", document)
    assert row["status"] == "analyzed", row
    analysis = row["analysis"]
    assert analysis["pages"] == 1 and analysis["characters"] > 100
    assert analysis["specialties_to_consult"] == ["speech_language_therapy"]
    assert [o["area"] for o in analysis["observations"]] == ["communication", "communication", "social"]
    assert row["analysis_model"] == "claude-haiku-4-5 document_analysis@v1"

    image_row = await settled(family.viewer, "documents", scan)
    assert image_row["status"] == "analyzed", image_row
    requests = await structured_requests(fake_llm, "record_document_analysis")
    [pdf_request] = [r for r in requests if "Expressive vocabulary" in json.dumps(r)]
    assert "Noa" in json.dumps(pdf_request) and "image" not in json.dumps(pdf_request["messages"])
    [image_request] = [r for r in requests if "letter [[replay" in json.dumps(r)]
    blocks = image_request["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["text", "image"] and blocks[1]["source"]["media_type"] == "image/jpeg"

    journey = await admin.fetchrow(
        "select progress, artifacts from public.journeys where child_id = $1", family.child_id
    )
    progress, artifacts = json.loads(journey["progress"]), json.loads(journey["artifacts"])
    assert progress["documents"] == 68 and progress["analysis"] == 100
    assert {a["ref_id"] for a in artifacts if a["kind"] == "document_analysis"} == {document, scan}
    events = await admin.fetch(
        "select kind::text, source::text from public.journey_events where child_id = $1 and source = 'worker'",
        family.child_id,
    )
    assert {(e["kind"], e["source"]) for e in events} == {
        ("progress_updated", "worker"),
        ("artifact_updated", "worker"),
    }


async def test_files_that_are_not_what_they_claim_or_unreadable_end_in_error(
    family: Family, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    start_worker()
    disguised = await add_document(family.owner, family.child_id, png(), "application/pdf", "really-a-png.pdf")
    damaged = await add_document(
        family.owner, family.child_id, b"%PDF-1.7\n" + bytes(200), "application/pdf", "broken.pdf"
    )
    blank = await add_document(family.owner, family.child_id, pdf(" "), "application/pdf", "blank.pdf")
    path = f"{family.child_id}/not-a-video.mp4"
    await upload(family.owner, VIDEOS, path, b"\x00\x00\x00\x18ftypmp42" + bytes(100), "video/mp4")
    video = (
        await family.owner.client.table("videos")
        .insert({"child_id": family.child_id, "scenario": "free_play", "storage_path": path, "mime_type": "video/mp4",
                 "size_bytes": 112})
        .execute()
    ).data[0]["id"]  # fmt: skip
    expected = {
        disguised: "is not a PDF, as it was uploaded: it is a PNG image",
        damaged: "could not be read",
        blank: "no text to read",
    }
    for document, message in expected.items():
        row = await settled(family.owner, "documents", document)
        assert (row["status"], row["analysis"]) == ("error", None)
        assert message in row["error_message"], row["error_message"]
    row = await settled(family.owner, "videos", video)
    assert row["status"] == "error" and "could not be read" in row["error_message"], row


async def test_a_video_is_analysed_from_sampled_frames_with_a_thumbnail(
    family: Family, start_worker: Callable[..., WorkerProcess], fake_llm: str, tmp_path: Path
) -> None:
    start_worker()
    clip = mp4(tmp_path)
    path = f"{family.child_id}/{uuid.uuid4()}.mp4"
    await upload(family.caregiver, VIDEOS, path, clip, "video/mp4")
    video = (
        await family.caregiver.client.table("videos")
        .insert({"child_id": family.child_id, "scenario": "free_play", "storage_path": path, "mime_type": "video/mp4",
                 "size_bytes": len(clip), "title": "Blocks after lunch [[replay:anthropic_video_analysis]]"})
        .execute()
    ).data[0]["id"]  # fmt: skip
    row = await settled(family.viewer, "videos", video)
    assert row["status"] == "analyzed", row
    assert float(row["duration_seconds"]) == pytest.approx(3.0, abs=0.2)
    assert row["analysis"]["frames"] == 8
    assert row["analysis"]["summary"].startswith("נועה")
    assert {o["area"] for o in row["analysis"]["observations"]} == {"play", "social", "motor"}
    thumbnail = await family.viewer.client.storage.from_(VIDEOS).download(row["thumbnail_path"])
    assert thumbnail.startswith(b"\xff\xd8\xff")

    [request] = [
        r for r in await structured_requests(fake_llm, "record_video_analysis") if "Blocks after lunch" in json.dumps(r)
    ]
    blocks = request["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["text"] + ["image"] * 8
    assert "free_play" in blocks[0]["text"] and "Length: 3 seconds" in blocks[0]["text"]
