"""storage: the content-addressed, write-once blob store (local filesystem)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from storage.errors import BlobNotFoundError, BlobTooLargeError

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StagedBlob:
    """A blob written to a temporary file, hashed, not yet published."""

    path: Path
    """Temporary file holding the bytes."""
    sha256: str
    """Lower-case hex SHA-256 of the bytes."""
    size: int
    """Number of bytes."""


class BlobStore(Protocol):
    """Where PDF revisions live, addressed by SHA-256."""

    def stage(self, stream: IO[bytes], limit: int | None = None) -> StagedBlob: ...

    def new_temp_path(self, suffix: str = "") -> Path: ...

    def stage_file(self, path: Path) -> StagedBlob: ...

    def publish(self, staged: StagedBlob) -> str: ...

    def discard(self, staged: StagedBlob) -> None: ...

    def path(self, sha256: str) -> Path: ...

    def exists(self, sha256: str) -> bool: ...


class FilesystemBlobStore:
    """Blobs under ``root/ab/cd/<sha256>``; temporary files under ``root/tmp``.

    Writes are streamed in chunks, hashed on the way, fsynced and published with an
    atomic rename, so a reader never sees a half-written blob and a crash leaves at most
    an orphan temporary file.
    """

    def __init__(self, root: Path) -> None:
        """:param root: the blob directory; created if missing."""
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def new_temp_path(self, suffix: str = "") -> Path:
        """:returns: a fresh, empty temporary file path inside the store."""
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=suffix)
        os.close(fd)
        return Path(name)

    def stage(self, stream: IO[bytes], limit: int | None = None) -> StagedBlob:
        """Copy ``stream`` to a temporary file, hashing as it goes.

        :param stream: the source, read in 1 MiB chunks.
        :param limit: maximum size in bytes.
        :returns: the staged blob.
        :raises BlobTooLargeError: past ``limit`` (the temporary file is removed).
        """
        path = self.new_temp_path(".part")
        digest = hashlib.sha256()
        size = 0
        try:
            with path.open("wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise BlobTooLargeError(limit)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return StagedBlob(path, digest.hexdigest(), size)

    def stage_file(self, path: Path) -> StagedBlob:
        """Hash a temporary file already inside the store (e.g. signing output).

        :param path: a file created with :meth:`new_temp_path`.
        :returns: the staged blob.
        """
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                size += len(chunk)
                digest.update(chunk)
        return StagedBlob(path, digest.hexdigest(), size)

    def publish(self, staged: StagedBlob) -> str:
        """Move a staged blob to its final, content-addressed place (write-once).

        :returns: the SHA-256 of the blob.
        """
        final = self.path(staged.sha256)
        if final.exists():
            staged.path.unlink(missing_ok=True)
            return staged.sha256
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged.path, 0o440)
        os.replace(staged.path, final)
        return staged.sha256

    def discard(self, staged: StagedBlob) -> None:
        """Remove a staged blob that will not be published."""
        staged.path.unlink(missing_ok=True)

    def path(self, sha256: str) -> Path:
        """:returns: where the blob with this digest lives (it may not exist)."""
        if not _SHA256.match(sha256):
            raise BlobNotFoundError(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        """:returns: whether a blob with this digest is stored."""
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """:returns: the blob opened for binary reading.

        :raises BlobNotFoundError: no such blob.
        """
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError(sha256) from exc


@contextlib.contextmanager
def staged_cleanup(store: BlobStore, staged: StagedBlob) -> Iterator[StagedBlob]:
    """Discard ``staged`` if the block raises; the caller publishes on success."""
    try:
        yield staged
    except BaseException:
        store.discard(staged)
        raise
