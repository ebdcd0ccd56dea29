"""Job kind `video_analysis` (migration 20261207000500): a child's video becomes structured observations.

The file is downloaded with the service role and checked against its row (a video container of the claimed
kind, within the size limit); ffmpeg (the binary in imageio-ffmpeg's wheel) measures its length and samples
frames evenly; the first is uploaded as its thumbnail; the model sees the frames in order and answers
through `record_video_analysis` (schema from `VideoFindings`). A file that is not the video it claims, too
long, too large or unreadable ends in status `error` with the reason.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.files import FileProblem, check
from shared.llm.base import ImageBlock
from shared.models import Job
from shared.prompts import data_or
from shared.schema import tool_for
from shared.video import Frames, sample_frames
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

log = logging.getLogger("workers.kinds.video_analysis")
BUCKET = "child-videos"


class VideoPayload(FilePayload):
    video_id: str


class VideoContext(FileContext):
    video: dict[str, Any] | None = None  # null once the video was deleted


class VideoFindings(BaseModel):
    """What the model records about a video (stored as videos.analysis)."""

    model_config = ConfigDict(extra="ignore")

    summary: Summary = Field(description="Two to four sentences for the parents, warm, in their language.")
    observations: list[Observation] = Field(default_factory=list, max_length=15)
    strengths: list[Line] = Field(default_factory=list, max_length=6)
    to_watch: list[Line] = Field(default_factory=list, max_length=6)
    specialties_to_consult: list[Specialty] = Field(default_factory=list, max_length=5)


class VideoAnalysis(BaseModel):
    """The output: findings, frames seen, length and thumbnail, or why the video could not be analysed."""

    model_config = ConfigDict(extra="ignore")

    findings: VideoFindings | None = None
    frames: int = 0
    duration_seconds: float | None = None
    thumbnail_path: str | None = None
    error: str | None = Field(default=None, max_length=1000)
    skipped: bool = False


TOOL = tool_for(VideoFindings, "record_video_analysis", "Record what the video's frames show about the child.")


async def frames_of(data: bytes, context: VideoContext) -> Frames:
    """The video checked against its row and limits, and its frames."""
    video = context.video or {}
    check(data, str(video.get("mime_type")), context.limit("max_bytes", 50 * 1048576))
    with tempfile.TemporaryDirectory(prefix="coachbase-video-") as folder:
        path = Path(folder) / "video"
        path.write_bytes(data)
        frames = await sample_frames(path, context.limit("frames", 8))
    longest = context.limit("max_seconds", 600)
    if frames.duration > longest:
        raise FileProblem(f"The video is too long to analyse ({frames.duration:.0f} s; at most {longest} s).")
    return frames


def handler(deps: Deps) -> Handler:
    async def analyse(job: Job, ctx: JobContext) -> Finished:
        payload = VideoPayload.model_validate(job.payload)
        context = VideoContext.model_validate(job.context)
        video = context.video
        if video is None:
            return Finished(VideoAnalysis(skipped=True))
        data = await files.download(ctx.queue.client, BUCKET, str(video["storage_path"]))
        try:
            frames = await frames_of(data, context)
        except FileProblem as problem:
            log.info("video refused", extra={"job_id": job.id, "reason": str(problem)})
            return Finished(VideoAnalysis(error=str(problem)))
        thumbnail = await files.upload(
            ctx.queue.client,
            BUCKET,
            f"{payload.child_id}/{payload.video_id}.thumbnail.jpg",
            frames.images[0],
            "image/jpeg",
        )
        values = {
            "child": child_value(context),
            "scenario": str(video.get("scenario") or ""),
            "title": data_or("note", video.get("title"), "(none)"),
            "duration": f"{frames.duration:.0f}",
            "frames": str(len(frames.images)),
            "locale": context.locale,
        }
        images = [ImageBlock("image/jpeg", image) for image in frames.images]
        prompt, version = picture_prompt(context.prompt, values, deps.analysis_model, images)
        result, calls = await tool_output(deps.provider, prompt, version, TOOL, VideoFindings)
        output = VideoAnalysis(
            findings=result.value,
            frames=len(images),
            duration_seconds=round(frames.duration, 2),
            thumbnail_path=thumbnail,
        )
        return Finished(output, calls)

    return analyse


SPEC = KindSpec(
    name="video_analysis",
    prompt_kind="video_analysis",
    streams=False,
    payload=VideoPayload,
    context=VideoContext,
    output=VideoAnalysis,
    handler=handler,
)
