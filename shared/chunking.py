"""Documents split into chunks for embedding: about `size` characters each, on natural boundaries.

A document is what a knowledge source's document function returns: a note's BlockNote blocks
(`blocks`: [{id, text}]) or plain `text`. Blocks are packed whole into chunks (each chunk records the
ids of its blocks, so a citation can point into the note); a block or paragraph longer than a chunk is
split at sentence, then word boundaries. Consecutive chunks overlap by up to `overlap` characters, so a
sentence cut at a boundary is still found whole in one of them. The sizes suit MiniLM-class models,
which read about 256 word pieces (~1,000 characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+")  # also the CJK full stop, ! and ?
LONGEST = 4000  # knowledge_chunks.content's limit


@dataclass(frozen=True)
class Chunk:
    index: int
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "content": self.content, "metadata": self.metadata}


def chunk_document(document: dict[str, Any], size: int = 900, overlap: int = 120) -> list[Chunk]:
    """The document's chunks, in order; none when it has no text."""
    size = max(100, min(size, LONGEST))
    overlap = max(0, min(overlap, size // 2))
    blocks = document.get("blocks")
    if isinstance(blocks, list):
        pieces = [(str(b.get("id") or ""), str(b.get("text") or "").strip()) for b in blocks if isinstance(b, dict)]
        return _pack([(i, t) for i, t in pieces if t], size, overlap)
    text = str(document.get("text") or "")
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return _pack([("", p) for p in paragraphs], size, overlap)


def _pack(pieces: list[tuple[str, str]], size: int, overlap: int) -> list[Chunk]:
    """Whole pieces while they fit, long ones split; the tail of a chunk starts the next."""
    chunks: list[Chunk] = []
    current: list[str] = []
    ids: list[str] = []
    for piece_id, text in pieces:
        for part in split_text(text, max(size - overlap - 1, size // 2)):
            if current and len("\n".join([*current, part])) > size:
                chunks.append(_chunk(len(chunks), current, ids))
                tail = _tail(current[-1], overlap)
                current, ids = ([tail] if tail else []), ([ids[-1]] if tail and ids else [])
                if current and len("\n".join([*current, part])) > size:
                    current, ids = [], []
            current.append(part)
            if piece_id and piece_id not in ids:
                ids.append(piece_id)
    if current:
        chunks.append(_chunk(len(chunks), current, ids))
    return chunks


def _chunk(index: int, parts: list[str], ids: list[str]) -> Chunk:
    return Chunk(index, "\n".join(parts)[:LONGEST], {"block_ids": list(ids)} if ids else {})


def _tail(text: str, overlap: int) -> str:
    """The last `overlap` characters of a text, from a word boundary."""
    if overlap <= 0:
        return ""
    if len(text) <= overlap:
        return text
    cut = text[-overlap:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < len(cut) - 1 else cut


def split_text(text: str, size: int) -> list[str]:
    """A text in parts of at most `size` characters: sentences packed together, long ones at words."""
    if len(text) <= size:
        return [text]
    parts: list[str] = []
    current = ""
    for sentence in SENTENCE_END.split(text):
        for piece in _words(sentence, size) if len(sentence) > size else [sentence]:
            if current and len(current) + 1 + len(piece) > size:
                parts.append(current)
                current = piece
            else:
                current = f"{current} {piece}" if current else piece
    if current:
        parts.append(current)
    return parts


def _words(sentence: str, size: int) -> list[str]:
    parts: list[str] = []
    current = ""
    for word in sentence.split():
        while len(word) > size:  # no space to cut at
            if current:
                parts.append(current)
                current = ""
            parts.append(word[:size])
            word = word[size:]
        if current and len(current) + 1 + len(word) > size:
            parts.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        parts.append(current)
    return parts
