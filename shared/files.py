"""What a file really is, and its contents for a model: magic bytes, a PDF's text, an image made fit to send.

Uploads claim a type (the row's mime_type, the object's content type); the bytes decide. A file that is not
what it claims, too large or unreadable raises `FileProblem` with a message for the family: the job ends
with the file in status `error`, not retrying what cannot succeed.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from shared.llm.base import ImageBlock

log = logging.getLogger("shared.files")

# Longest side of an image sent to a model: larger ones cost tokens and are scaled down by the API anyway.
IMAGE_SIDE = 1568

NAMES = {
    "application/pdf": "a PDF",
    "image/jpeg": "a JPEG image",
    "image/png": "a PNG image",
    "image/webp": "a WebP image",
    "image/gif": "a GIF image",
    "video/mp4": "an MP4 video",
    "video/quicktime": "a QuickTime video",
    "video/webm": "a WebM video",
}


class FileProblem(Exception):
    """The file cannot be analysed: `str(exc)` says why, in words for the family."""


def sniff(data: bytes) -> str | None:
    """The media type the bytes are (by their magic numbers), or None when unknown."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def same_kind(claimed: str, actual: str) -> bool:
    """MP4 and QuickTime share a container (phones label either way); other types must match exactly."""
    containers = {"video/mp4", "video/quicktime"}
    return claimed == actual or (claimed in containers and actual in containers)


def check(data: bytes, claimed: str, max_bytes: int) -> str:
    """The bytes' real type, refused when it is not what was claimed or the file is too large or empty."""
    if not data:
        raise FileProblem("The file is empty.")
    if len(data) > max_bytes:
        raise FileProblem(f"The file is too large to analyse ({_mb(len(data))}; at most {_mb(max_bytes)}).")
    actual = sniff(data)
    if actual is None or not same_kind(claimed, actual):
        what = NAMES.get(actual or "", "a kind of file that cannot be analysed")
        raise FileProblem(f"The file is not {NAMES.get(claimed, claimed)}, as it was uploaded: it is {what}.")
    return actual


def _mb(size: int) -> str:
    return f"{size / 1048576:.1f} MB"


@dataclass(frozen=True)
class PdfText:
    text: str
    pages: int  # in the document
    read_pages: int  # whose text was read
    truncated: bool


def pdf_text(data: bytes, max_pages: int, max_characters: int) -> PdfText:
    """A PDF's text, page by page (pypdf), up to the limits. Encrypted, damaged or textless: FileProblem."""
    from pypdf import PdfReader  # a heavy import only the document analysis needs
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileProblem("The PDF is protected by a password, so it cannot be read.")
        pages = len(reader.pages)
        parts = [page.extract_text() or "" for page in reader.pages[:max_pages]]
    except FileProblem:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        log.info("unreadable PDF", extra={"error": repr(exc)[:300]})
        raise FileProblem("The PDF could not be read: it may be damaged.") from exc
    text = "\n\n".join(f"[page {n}]\n{part.strip()}" for n, part in enumerate(parts, 1) if part.strip())
    if not text:
        raise FileProblem("The PDF has no text to read (is it a scan?). Upload its pages as photos instead.")
    return PdfText(text[:max_characters], pages, len(parts), len(text) > max_characters or pages > max_pages)


def image_for_model(data: bytes) -> ImageBlock:
    """An image as a model should get it: decoded (so a damaged file is refused), at most IMAGE_SIDE, JPEG."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FileProblem("The image could not be read: it may be damaged.") from exc
    picture.thumbnail((IMAGE_SIDE, IMAGE_SIDE))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=85)
    return ImageBlock("image/jpeg", out.getvalue())
