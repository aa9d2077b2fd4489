"""storage: the blob store on the local filesystem (the embedded default)."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, BinaryIO

from storage.blobs.base import StagedBlob, StoredFile, check_key, sha256_of, spool, staged_temp_file
from storage.errors import BlobNotFoundError

_DIR_MODE = 0o700
_FILE_MODE = 0o400
_KEY_NAME = re.compile(r"[0-9a-f]{64}")

VERIFIED_FOR_SECONDS = 300.0
"""How long a re-hash of an unchanged file vouches for it (:meth:`FilesystemBlobStore.intact`):
a change through the filesystem shows in the file's metadata at once; decay of the disk
itself, which changes no metadata, is caught by the next re-hash after this."""
SETTLED_SECONDS = 2.0
"""A file whose status changed less than this ago is re-hashed every time (a second
change within the clock's granularity would leave its times as they were)."""
REMEMBERED_BLOBS = 4096
"""Re-hashes a store remembers at most (the oldest is forgotten first)."""

# Filesystems without hard links (some network and FUSE mounts) answer one of these.
_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (POSIX needs the directory's fsync)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _signature(status: os.stat_result) -> tuple[int, ...]:
    """What identifies one state of a file: device, inode, size, modification and
    status-change times (nanoseconds)."""
    return (
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


class FilesystemBlobStore:
    """Blobs under ``root/ab/cd/<key>``, read-only; staged and temporary files under
    ``root/tmp`` (the same filesystem, so publishing is a link, not a copy).

    A put streams the content to a temporary file, hashing it on the way, fsyncs it
    and hard-links it to its key (``link`` fails if the key exists, so a blob is never
    rewritten, even by two publishers of the same content at once), then fsyncs the
    directory: once :meth:`publish` returns, the blob survives a crash, and a row that
    refers to it can be committed. A crash before that leaves at most an orphan
    temporary file.
    """

    def __init__(self, root: Path) -> None:
        """:param root: the blob directory; created if missing, readable by the service
        user only (folders 0700, blobs 0400, temporary files 0600)."""
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
        for directory in (root, self.tmp):
            directory.chmod(_DIR_MODE)
        self._intact: dict[str, tuple[tuple[int, ...], float]] = {}
        self._intact_lock = threading.Lock()

    def _file(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    # --- content -----------------------------------------------------------------------

    def put(self, stream: IO[bytes]) -> str:
        """Store what remains in ``stream`` (see :class:`~storage.blobs.BlobStore`)."""
        return self.publish(self.stage(stream))

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; :returns: its key."""
        return self.put(io.BytesIO(data))

    def open(self, key: str) -> BinaryIO:
        """:returns: the blob opened for reading.

        :raises BlobNotFoundError: no such blob.
        """
        try:
            return self._file(key).open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError(key) from exc

    def read_bytes(self, key: str) -> bytes:
        """:returns: the blob's bytes. :raises BlobNotFoundError: no such blob."""
        with self.open(key) as f:
            return f.read()

    def exists(self, key: str) -> bool:
        """:returns: whether a blob has this key."""
        return self._file(key).is_file()

    def size(self, key: str) -> int:
        """:returns: the blob's size in bytes. :raises BlobNotFoundError: no such blob."""
        try:
            return self._file(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFoundError(key) from exc

    def verify(self, key: str) -> bool:
        """:returns: whether the blob still hashes to its key.

        :raises BlobNotFoundError: no such blob.
        """
        with self.open(key) as f:
            digest, _size = sha256_of(f)
        return digest == key

    def intact(self, key: str) -> bool:
        """:meth:`verify`, skipped for a file this store re-hashed less than
        :data:`VERIFIED_FOR_SECONDS` ago and that is provably the same file since: the
        same device, inode, size, modification and status-change times. Any write,
        rename, ``touch`` or ``chmod`` sets the status-change time to the current time
        (no call sets it back), so a file changed behind the store's back is re-hashed
        at its next check; a re-hash is remembered only when the file's status did not
        change while it was hashed nor in the :data:`SETTLED_SECONDS` before.

        :returns: whether the blob still hashes to its key.
        :raises BlobNotFoundError: no such blob.
        """
        path = self._file(key)
        try:
            before = _signature(path.stat())
        except FileNotFoundError as exc:
            raise BlobNotFoundError(key) from exc
        with self._intact_lock:
            known = self._intact.get(key)
        if (
            known is not None
            and known[0] == before
            and time.monotonic() - known[1] < VERIFIED_FOR_SECONDS
        ):
            return True
        checked_at = time.monotonic()
        ok = self.verify(key)
        try:
            after = path.stat()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(key) from exc
        settled = time.time_ns() - after.st_ctime_ns > SETTLED_SECONDS * 1e9
        with self._intact_lock:
            self._intact.pop(key, None)
            if ok and settled and _signature(after) == before:
                while len(self._intact) >= REMEMBERED_BLOBS:
                    del self._intact[next(iter(self._intact))]  # the oldest
                self._intact[key] = (before, checked_at)
        return ok

    def delete(self, key: str) -> None:
        """Remove a blob (retention and clean-up only); absent is fine."""
        self._file(key).unlink(missing_ok=True)

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """Yield the blob's own file (read-only), without copying.

        :raises BlobNotFoundError: no such blob.
        """
        path = self._file(key)
        if not path.is_file():
            raise BlobNotFoundError(key)
        yield path

    # --- staging -----------------------------------------------------------------------

    def new_temp_path(self, suffix: str = "") -> Path:
        """:returns: a fresh, empty temporary file inside the store."""
        fd, name = tempfile.mkstemp(dir=self.tmp, suffix=suffix)
        os.close(fd)
        return Path(name)

    def stage(self, stream: IO[bytes], limit: int | None = None) -> StagedBlob:
        """Copy ``stream`` to a local temporary file, hashing as it goes.

        :raises BlobTooLargeError: past ``limit`` (the temporary file is removed).
        """
        return spool(stream, self.new_temp_path(".part"), limit)

    def stage_file(self, path: Path) -> StagedBlob:
        """Hash a file made with :meth:`new_temp_path` (e.g. pyHanko's output).

        :raises ValueError: ``path`` is not one of this store's temporary files.
        """
        return staged_temp_file(path, self.tmp)

    def publish(self, staged: StagedBlob) -> str:
        """Make staged content durable and link it to its key (write-once); the staged
        file is removed whatever happens.

        :returns: the key.
        """
        final = self._file(staged.sha256)
        try:
            if final.exists():
                # Young again: the clean-up never takes a blob a new row is about to name.
                moment = time.time()
                os.utime(final, (moment, moment))
                return staged.sha256
            _fsync_file(staged.path)
            os.chmod(staged.path, _FILE_MODE)
            self._make_parents(final)
            try:
                os.link(staged.path, final)
            except FileExistsError:
                pass  # published meanwhile by another request: the same bytes
            except OSError as exc:
                if exc.errno not in _NO_LINKS:
                    raise
                os.replace(staged.path, final)  # no links here: rename (same bytes if raced)
            _fsync_dir(final.parent)
        finally:
            staged.path.unlink(missing_ok=True)
        return staged.sha256

    def discard(self, staged: StagedBlob) -> None:
        """Remove a staged file that will not be published."""
        staged.path.unlink(missing_ok=True)

    def _make_parents(self, final: Path) -> None:
        """Create ``ab/`` and ``ab/cd/`` as needed, each entry made durable."""
        for directory in (final.parent.parent, final.parent):
            if not directory.is_dir():
                directory.mkdir(exist_ok=True, mode=_DIR_MODE)
                directory.chmod(_DIR_MODE)  # whatever the umask
                _fsync_dir(directory.parent)

    # --- clean-up (storage.cleanup) ----------------------------------------------------

    def temporaries(self) -> Iterator[StoredFile]:
        """:returns: every temporary file (staged uploads, signing output), with its
        last modification."""
        for path in self.tmp.iterdir():
            stored = _stored(path, path.name)
            if stored is not None:
                yield stored

    def remove_temporary(self, name: str) -> bool:
        """Remove the temporary file ``name``. :returns: whether it was there."""
        path = self.tmp / Path(name).name
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def blobs(self) -> Iterator[StoredFile]:
        """:returns: every published blob (its key as name), with its last modification."""
        for first in self.root.iterdir():
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in first.iterdir():
                for path in second.iterdir() if second.is_dir() else ():
                    if _KEY_NAME.fullmatch(path.name):
                        stored = _stored(path, path.name)
                        if stored is not None:
                            yield stored

    def modified(self, key: str) -> datetime | None:
        """:returns: when blob ``key`` was last published (None: absent)."""
        stored = _stored(self._file(key), key)
        return stored.modified if stored else None


def _stored(path: Path, name: str) -> StoredFile | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return StoredFile(name, datetime.fromtimestamp(info.st_mtime, UTC), info.st_size)
