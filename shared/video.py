"""Videos for a model: their length and frames sampled evenly, with the ffmpeg binary imageio-ffmpeg ships.

No system ffmpeg is needed: `imageio-ffmpeg`'s wheel carries a static build (ffmpeg only, no ffprobe), so
the length is read from ffmpeg's own description of the input. Each call runs ffmpeg as a subprocess
with a deadline; a file ffmpeg cannot read raises FileProblem.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shared.files import FileProblem

DURATION = re.compile(rb"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
DEADLINE_SECONDS = 120.0


def ffmpeg() -> str:
    """The path of the ffmpeg binary shipped in imageio-ffmpeg's wheel."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


async def _run(*args: str, deadline: float = DEADLINE_SECONDS) -> tuple[int, bytes]:
    """Run ffmpeg; its exit status and what it wrote to stderr (its description of the input, errors)."""
    process = await asyncio.create_subprocess_exec(
        ffmpeg(), "-hide_banner", "-nostdin", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), deadline)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise FileProblem("The video took too long to read.") from None
    return process.returncode or 0, stderr


async def duration_seconds(path: Path) -> float:
    """The video's length, from ffmpeg's description of the input."""
    _, described = await _run("-i", str(path))
    match = DURATION.search(described)
    if match is None or b"Video:" not in described:
        raise FileProblem("The video could not be read: it may be damaged or in a format that is not supported.")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class Frames:
    """JPEG frames sampled evenly over a video, in order, and the video's length."""

    images: list[bytes]
    duration: float


async def sample_frames(path: Path, count: int, width: int = 640) -> Frames:
    """`count` frames at the middles of `count` equal spans of the video, scaled to `width` pixels wide.

    One ffmpeg per frame, each seeking straight to its moment (input seeking: it decodes from the key frame
    before it, not the whole video), a few at a time."""
    duration = await duration_seconds(path)
    if duration <= 0:
        raise FileProblem("The video is empty.")
    span = duration / count
    gate = asyncio.Semaphore(4)
    with tempfile.TemporaryDirectory(prefix="coachbase-frames-") as folder:

        async def frame(index: int) -> tuple[int, bytes]:
            target = Path(folder) / f"frame-{index:03d}.jpg"
            async with gate:
                status, _ = await _run(
                    "-ss", f"{span * (index + 0.5):.3f}", "-i", str(path), "-frames:v", "1",
                    "-vf", f"scale={width}:-2", "-q:v", "4", "-f", "image2", str(target),
                )  # fmt: skip
            return status, await asyncio.to_thread(_read, target)

        taken = await asyncio.gather(*(frame(index) for index in range(count)))
    images = [image for _, image in taken if image]
    if not images:
        raise FileProblem("No frames could be taken from the video: it may be damaged.")
    return Frames(images, duration)


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b""
