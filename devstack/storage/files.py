"""Object bytes on disk under `.devstack/storage/`, laid out as storage-api's file backend: one file per
version at `<bucket>/<object name>/<version>`.

An upload streams into a temporary file first (the size limit is enforced while reading), and only then
is its row written; the file is moved into place inside that transaction, so a row never points at bytes
that are not there. A replaced version's file is removed once the new row has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from devstack.storage import errors

# storage-api's isValidKey / isValidBucketName character sets.
_KEY = re.compile(r"^(\w|/|!|-|\.|\*|'|\(|\)| |&|\$|@|=|;|:|\+|,|\?)*$")
_BUCKET = re.compile(r"^(\w|!|-|\.|\*|'|\(|\)| |&|\$|@|=|;|:|\+|,|\?)*$")
CHUNK = 1024 * 1024


def check_key(name: str) -> str:
    """A valid object name: storage-api's characters, no empty, `.` or `..` segment (nothing escapes the root)."""
    segments = name.split("/")
    if not name or len(name) > 1024 or not _KEY.match(name) or any(s in ("", ".", "..") for s in segments):
        raise errors.invalid_key(name)
    return name


def check_bucket(name: str) -> str:
    if not name or len(name) > 100 or not _BUCKET.match(name) or name in (".", ".."):
        raise errors.invalid_bucket_name()
    return name


@dataclass
class Staged:
    """A body written to a temporary file: its path, size and MD5 (the eTag)."""

    path: Path
    size: int
    md5: str

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class StagedWriter:
    """Writes and hashes a body in a worker thread, one batch in flight while the loop receives the next:
    the two cores share the work, and the loop makes one thread hop per BATCH bytes, not per chunk."""

    BATCH = 4 * CHUNK

    def __init__(self, out: BinaryIO, path: Path, limit: int) -> None:
        self._out, self.path, self._limit = out, path, limit
        self._digest = hashlib.md5(usedforsecurity=False)
        self._buffer: list[bytes] = []
        self._buffered = 0
        self.size = 0
        self._pending: asyncio.Future[None] | None = None

    def _write(self, data: bytes) -> None:
        self._out.write(data)
        self._digest.update(data)

    async def _flush(self) -> None:
        if self._pending is not None:
            await self._pending
            self._pending = None
        if self._buffer:
            data = b"".join(self._buffer)
            self._buffer, self._buffered = [], 0
            self._pending = asyncio.ensure_future(asyncio.to_thread(self._write, data))

    async def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._limit:
            raise errors.too_large()
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= self.BATCH:
            await self._flush()

    async def finish(self) -> Staged:
        await self._flush()
        await self._flush()
        self._out.close()
        return Staged(self.path, self.size, self._digest.hexdigest())

    async def abort(self) -> None:
        if self._pending is not None:
            with contextlib.suppress(Exception):
                await self._pending
        self._out.close()
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class FileStore:
    root: Path

    def path(self, bucket: str, name: str, version: str) -> Path:
        return self.root / check_bucket(bucket) / check_key(name) / version

    def _tmp_dir(self) -> Path:
        tmp = self.root / ".tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    def _new_staged(self) -> tuple[BinaryIO, Path]:
        fd, raw = tempfile.mkstemp(dir=self._tmp_dir())
        return os.fdopen(fd, "wb"), Path(raw)

    def writer(self, limit: int) -> StagedWriter:
        """A temporary file to stream a body into, refusing more than `limit` bytes (413 EntityTooLarge)."""
        out, path = self._new_staged()
        return StagedWriter(out, path, limit)

    def place(self, staged: Staged, bucket: str, name: str, version: str) -> Path:
        target = self.path(bucket, name, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, target)
        return target

    def copy(self, source: Path, bucket: str, name: str, version: str) -> None:
        target = self.path(bucket, name, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def move(self, bucket: str, name: str, version: str, to_bucket: str, to_name: str) -> None:
        source = self.path(bucket, name, version)
        target = self.path(to_bucket, to_name, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        self._prune(source.parent, self.root / bucket)

    def keep_only(self, bucket: str, name: str, version: str | None) -> None:
        """Remove every stored version of an object but `version` (None: all of them)."""
        folder = self.root / check_bucket(bucket) / check_key(name)
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            if entry.is_file() and entry.name != version:
                entry.unlink(missing_ok=True)
        self._prune(folder, self.root / bucket)

    def remove_bucket(self, bucket: str) -> None:
        shutil.rmtree(self.root / check_bucket(bucket), ignore_errors=True)

    @staticmethod
    def _prune(folder: Path, stop: Path) -> None:
        """Remove now-empty folders up to (not including) the bucket's."""
        while folder != stop and stop in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent
