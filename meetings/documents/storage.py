"""Content-addressed file store: each distinct file is kept once, named by its SHA-256.

Layout under the data dir::

    documents/blobs/ab/abcdef…(64 hex).pdf   originals and stamped copies
    documents/tmp/                           uploads and copies being written

A file enters the store by an atomic rename from ``tmp`` (same file system), so a reader
never sees half a file, and a crash leaves at most a temp file, which ``sweep`` removes.
"""

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from meetings.errors import DomainError

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FLUSH_BYTES = 1 << 20  # write to disk in 1 MiB batches, off the event loop


class TooLarge(DomainError):
    """An upload passed the configured size limit (HTTP 413)."""

    code = "payload_too_large"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A file received into ``tmp``, hashed while it was written."""

    path: Path
    sha256: str
    size: int


class BlobStore:
    """The files of one installation's documents."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"
        self.tmp = root / "tmp"

    def path(self, sha256: str) -> Path:
        """Where the file with this hash lives (whether or not it exists yet)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.blobs / sha256[:2] / f"{sha256}.pdf"

    def has(self, sha256: str) -> bool:
        """True if the store holds this file."""
        return self.path(sha256).is_file()

    @contextlib.contextmanager
    def temp_file(self) -> Iterator[Path]:
        """A fresh path in ``tmp``, removed on exit unless it was moved into the store."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        path = self.tmp / f"{secrets.token_hex(16)}.part"
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    async def receive(self, chunks: AsyncIterable[bytes], target: Path, limit: int) -> Incoming:
        """Stream ``chunks`` into ``target``, hashing as they come; never holds the whole file.

        Raises ``TooLarge`` as soon as more than ``limit`` bytes arrived (the caller's
        ``temp_file`` removes what was written).
        """
        digest = hashlib.sha256()
        size = 0
        pending: list[bytes] = []
        pending_size = 0
        with target.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the file exceeds the limit of {limit} bytes", limit=limit)
                digest.update(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= _FLUSH_BYTES:
                    await asyncio.to_thread(out.writelines, pending)
                    pending, pending_size = [], 0
            if pending:
                await asyncio.to_thread(out.writelines, pending)
            await asyncio.to_thread(os.fsync, out.fileno())
        return Incoming(target, digest.hexdigest(), size)

    def put(self, incoming: Incoming) -> bool:
        """Move a received file into the store; True if it was new, False if already held.

        A second upload of the same bytes shares the first one's file.
        """
        final = self.path(incoming.sha256)
        if final.is_file():
            # Fresh mtime: ``sweep`` must not take it while this upload's row is uncommitted.
            os.utime(final)
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(incoming.path, final)  # atomic: the name appears with the whole content
        # The rename is durable once its directory is: an acknowledged upload survives a crash.
        directory = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return True

    def sweep(self, referenced: Iterable[str], older_than_seconds: float = 3600.0) -> list[str]:
        """Delete stored files no row refers to, and stale temp files; returns removed hashes.

        Only files older than ``older_than_seconds`` go: a file placed by a transaction that
        has not committed yet is young, and must survive.
        """
        keep = set(referenced)
        cutoff = time.time() - older_than_seconds
        removed: list[str] = []
        if self.blobs.is_dir():
            for path in self.blobs.glob("*/*.pdf"):
                sha = path.stem
                if sha not in keep and path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    removed.append(sha)
        if self.tmp.is_dir():
            for path in self.tmp.glob("*.part"):
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
        return removed
