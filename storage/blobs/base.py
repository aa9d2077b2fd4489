"""storage: the blob store's interface: content-addressed keys and streams, not paths."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from storage.errors import BlobTooLargeError, InvalidBlobKeyError

CHUNK = 1024 * 1024
"""Bytes read or written at a time: no operation holds a whole blob in memory."""

_KEY = re.compile(r"[0-9a-f]{64}")


def check_key(key: str) -> str:
    """:returns: ``key`` unchanged if it is a blob key (64 lower-case hex digits).

    :raises InvalidBlobKeyError: anything else (upper case, a path, a trailing newline).
    """
    if not isinstance(key, str) or _KEY.fullmatch(key) is None:
        raise InvalidBlobKeyError(str(key))
    return key


def sha256_of(stream: IO[bytes]) -> tuple[str, int]:
    """:returns: the SHA-256 (hex) and size of what remains in ``stream``, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class StagedBlob:
    """Content written to a local temporary file and hashed, not yet in the store.

    A staged file is the caller's to check (pyHanko, qpdf) before it is published or
    discarded; it is not a blob, and its path says nothing about where blobs live.
    """

    path: Path
    """The local temporary file holding the bytes."""
    sha256: str
    """Lower-case hex SHA-256 of the bytes: the key the blob will have."""
    size: int
    """Number of bytes."""


@dataclass(frozen=True)
class StoredFile:
    """A file of the store as the clean-up sees it."""

    name: str
    """A temporary file's name, or a blob's key."""
    modified: datetime
    """Last modification (UTC): the write of a temporary file, the last publication of a
    blob."""
    size: int
    """Bytes."""


class BlobStore(Protocol):
    """Where PDF revisions, signature images and seals live, addressed by their SHA-256.

    Callers hold keys (64 lower-case hex digits) and streams, never the place a blob
    is kept, so a backend (the local filesystem; an S3-compatible object store) plugs in
    without touching them. Every backend promises:

    - **content addressing**: the key of a blob is the SHA-256 of its bytes, computed
      by the store while it reads them; a malformed key raises
      :class:`~storage.errors.InvalidBlobKeyError` from every method;
    - **atomic, write-once puts**: a blob is written to a temporary place, made durable
      and only then published under its key, so a reader never sees part of a blob and
      a failed or aborted put leaves nothing; an existing key is never rewritten;
    - **streaming**: puts and reads go chunk by chunk (:data:`CHUNK`), so a 100 MB PDF
      costs a few MB of memory; a remote backend may upload in parts;
    - **integrity**: :meth:`verify` re-hashes a blob; a remote backend also checks the
      checksum while reading and raises :class:`~storage.errors.BlobCorruptError`.

    Content that must be checked before it may be stored (an upload, a fresh signature)
    is *staged*: spooled to a local temporary file the caller may hand to pyHanko, then
    published or discarded. That is how a refused upload leaves nothing behind.
    """

    def put(self, stream: IO[bytes]) -> str:
        """Store what remains in ``stream``, read in chunks.

        :param stream: the source, read to its end (not closed).
        :returns: the key (SHA-256 hex) of the content.
        """
        ...

    def put_bytes(self, data: bytes) -> str:
        """Store small content held in memory (a signature image, a seal).

        :returns: the key of ``data``.
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """:returns: the blob, opened for binary reading (the caller closes it).

        :raises BlobNotFoundError: no blob has this key.
        """
        ...

    def read_bytes(self, key: str) -> bytes:
        """:returns: the whole blob in memory (for small blobs and HTTP bodies).

        :raises BlobNotFoundError: no blob has this key.
        """
        ...

    def exists(self, key: str) -> bool:
        """:returns: whether a blob has this key."""
        ...

    def size(self, key: str) -> int:
        """:returns: the blob's size in bytes.

        :raises BlobNotFoundError: no blob has this key.
        """
        ...

    def verify(self, key: str) -> bool:
        """Re-hash a blob (the key is its digest).

        :returns: whether its content still hashes to ``key``.
        :raises BlobNotFoundError: no blob has this key.
        """
        ...

    def intact(self, key: str) -> bool:
        """:meth:`verify`, which a backend may skip when it can prove the blob unchanged
        since its own last re-hash of it (for checks on every read of a page; an
        integrity check calls :meth:`verify`).

        :returns: whether its content still hashes to ``key``.
        :raises BlobNotFoundError: no blob has this key.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove a blob; an absent one is not an error.

        For retention and clean-up only: a row may refer to any key, and the same
        content uploaded twice has one key.
        """
        ...

    def temporaries(self) -> Iterator[StoredFile]:
        """:returns: every temporary file of the store (staged uploads, signing output),
        for the clean-up of what a crash left behind."""
        ...

    def remove_temporary(self, name: str) -> bool:
        """Remove a temporary file by name. :returns: whether it was there."""
        ...

    def blobs(self) -> Iterator[StoredFile]:
        """:returns: every published blob (its key as name), for the clean-up."""
        ...

    def modified(self, key: str) -> datetime | None:
        """:returns: when the blob was last published (None: absent); publishing content
        that is already stored counts as a new publication."""
        ...

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A local file holding the blob, for tools that need a path (pyHanko, pdftoppm,
        qpdf), valid inside the ``with`` block and to be treated as read-only.

        The filesystem backend yields its own file without copying; a remote backend
        downloads to a temporary file, checks its digest and removes it afterwards.

        :raises BlobNotFoundError: no blob has this key (when entering the block).
        """
        ...

    def stage(self, stream: IO[bytes], limit: int | None = None) -> StagedBlob:
        """Spool ``stream`` to a local temporary file, hashing as it goes.

        :param limit: maximum size in bytes.
        :returns: the staged content, to :meth:`publish` or :meth:`discard`.
        :raises BlobTooLargeError: past ``limit`` (nothing is left behind).
        """
        ...

    def new_temp_path(self, suffix: str = "") -> Path:
        """:returns: a fresh, empty local temporary file for a tool's output (a signed
        PDF), to :meth:`stage_file` or to remove."""
        ...

    def stage_file(self, path: Path) -> StagedBlob:
        """Hash a local file made with :meth:`new_temp_path`: it becomes staged content."""
        ...

    def publish(self, staged: StagedBlob) -> str:
        """Store staged content under its key (atomic, write-once); the staged file is
        consumed.

        :returns: the key.
        """
        ...

    def discard(self, staged: StagedBlob) -> None:
        """Remove staged content that will not be published (idempotent)."""
        ...


def spool(stream: IO[bytes], path: Path, limit: int | None = None) -> StagedBlob:
    """Copy ``stream`` into the fresh local file ``path`` in :data:`CHUNK` steps, hashing
    as it goes (every backend stages this way).

    :param limit: maximum size in bytes.
    :raises BlobTooLargeError: past ``limit``; ``path`` is removed on any failure.
    """
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
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StagedBlob(path, digest.hexdigest(), size)


def staged_temp_file(path: Path, tmp: Path) -> StagedBlob:
    """Hash a tool's output written to a temporary file of the store whose staging
    folder is ``tmp``.

    :raises ValueError: ``path`` is not in ``tmp``.
    """
    if path.parent != tmp:
        raise ValueError(f"{path} is not a temporary file of this blob store")
    with path.open("rb") as f:
        sha256, size = sha256_of(f)
    return StagedBlob(path, sha256, size)
