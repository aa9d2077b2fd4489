"""storage: the blob store on an S3-compatible object store (AWS S3, MinIO, Ceph RGW, the
Vietnamese clouds' S3 offerings), through boto3.

Objects are named ``<prefix>ab/cd/<key>`` like the filesystem backend's files. Content is
staged in a local temporary folder (pyHanko and qpdf need a path, and a refused upload
must leave nothing remote), hashed on the way, then uploaded: in one ``PutObject`` with
its SHA-256 for the server to check, or, past :data:`MULTIPART_THRESHOLD`, in parts of
:data:`PART_SIZE` each carrying its own SHA-256, streamed from the staged file so a 1 GB
upload costs a few MB of memory. Puts are conditional (``If-None-Match: *``): an existing
key is never rewritten, and a server that does not know the condition rewrites the same
bytes, which is harmless for content-addressed keys. Every full read is re-hashed against
the key and raises :class:`~storage.errors.BlobCorruptError` at its end when the bytes
have changed, on top of the server's own checksum check (``ChecksumMode``).

Remote failures (the store unreachable, an access denied) raise
:class:`~storage.errors.BlobStoreUnavailableError`, an :class:`OSError` like a failing
disk, with the S3 error code and never the credentials.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from storage.blobs.base import (
    CHUNK,
    StagedBlob,
    StoredFile,
    check_key,
    sha256_of,
    spool,
    staged_temp_file,
)
from storage.errors import (
    BlobCorruptError,
    BlobNotFoundError,
    BlobStoreUnavailableError,
)

PART_SIZE = 8 * 1024 * 1024
"""Bytes per part of a multipart upload (S3's minimum is 5 MiB, its maximum 10,000 parts:
80 GB per blob)."""
MULTIPART_THRESHOLD = 16 * 1024 * 1024
"""Blobs larger than this are uploaded in parts."""
_KEY_NAME = re.compile(r"[0-9a-f]{64}")
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_ALREADY_THERE = frozenset({"412", "PreconditionFailed", "409", "ConditionalRequestConflict"})


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix, from ``s3://bucket/prefix``."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """:raises ValueError: not an ``s3://bucket[/prefix]`` URL."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
        prefix = parts.path.strip("/")
        return cls(parts.netloc, f"{prefix}/" if prefix else "")


@dataclass(frozen=True)
class S3Config:
    """How to reach the object store (all optional: boto3's own chain fills the gaps,
    e.g. an instance role on a cloud host)."""

    endpoint_url: str | None = None
    """The service's URL (MinIO, Ceph, a cloud's S3 endpoint); unset: AWS."""
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    addressing_style: str = "auto"
    """``path`` for MinIO/Ceph without wildcard DNS, ``virtual`` or ``auto``."""

    def client(self) -> Any:
        """:returns: a boto3 S3 client (thread-safe, shared by the store)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(
                s3={"addressing_style": self.addressing_style},
                retries={"mode": "standard", "max_attempts": 4},
                connect_timeout=10,
                read_timeout=60,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return str(error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


class _Slice(io.RawIOBase):
    """``length`` bytes of ``path`` from ``offset``: a part's body, read in chunks and
    rewindable (botocore may retry a part)."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self._file = path.open("rb")
        self._start, self._length, self._pos = offset, length, 0
        self._file.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        left = self._length - self._pos
        n = left if size is None or size < 0 else min(size, left)
        data = self._file.read(min(n, CHUNK)) if n > 0 else b""
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        self._file.seek(self._start + self._pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._file.close()
        super().close()


class _VerifiedReader(io.RawIOBase):
    """The body of a ``GetObject``, hashed as it is read: at its end the digest must be
    the key, else :class:`BlobCorruptError` (a reader never takes changed bytes for the
    blob)."""

    def __init__(self, key: str, body: Any) -> None:
        self._key, self._body = key, body
        self._digest = hashlib.sha256()
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._done:
            return 0
        data = self._body.read(len(buffer))
        if not data:
            self._done = True
            if self._digest.hexdigest() != self._key:
                raise BlobCorruptError(self._key)
            return 0
        self._digest.update(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


class S3BlobStore:
    """Blobs as objects ``<prefix>ab/cd/<key>`` in one bucket; staging in ``tmp``, a local
    folder (see the module's docstring for the promises kept)."""

    def __init__(self, location: S3Location, client: Any, tmp: Path) -> None:
        """:param location: the bucket and prefix.
        :param client: a boto3 S3 client.
        :param tmp: the local folder for staged content and downloaded copies (created).
        """
        self.location, self.client, self.tmp = location, client, tmp
        self.tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.tmp.chmod(0o700)  # staged uploads are readable by the service user only

    def _object(self, key: str) -> str:
        check_key(key)
        return f"{self.location.prefix}{key[:2]}/{key[2:4]}/{key}"

    def _call(self, operation: str, key: str, **kw: Any) -> Any:
        """Call ``operation`` on the client; S3 errors become typed storage errors."""
        try:
            return getattr(self.client, operation)(Bucket=self.location.bucket, **kw)
        except ClientError as exc:
            code = _code(exc)
            if code in _MISSING:
                raise BlobNotFoundError(key) from exc
            raise BlobStoreUnavailableError(f"S3 {operation}: {code}") from exc
        except BotoCoreError as exc:
            raise BlobStoreUnavailableError(f"S3 {operation}: {type(exc).__name__}") from exc

    # --- content -----------------------------------------------------------------------

    def put(self, stream: IO[bytes]) -> str:
        """Store what remains in ``stream`` (see :class:`~storage.blobs.BlobStore`)."""
        return self.publish(self.stage(stream))

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; :returns: its key."""
        return self.put(io.BytesIO(data))

    def open(self, key: str) -> BinaryIO:
        """:returns: the blob, streamed and re-hashed as it is read.

        :raises BlobNotFoundError: no such blob.
        """
        response = self._call("get_object", key, Key=self._object(key), ChecksumMode="ENABLED")
        return io.BufferedReader(_VerifiedReader(key, response["Body"]), CHUNK)

    def read_bytes(self, key: str) -> bytes:
        """:returns: the blob's bytes. :raises BlobNotFoundError: no such blob."""
        with self.open(key) as f:
            return f.read()

    def exists(self, key: str) -> bool:
        """:returns: whether a blob has this key."""
        name = self._object(key)  # a malformed key raises, it is not "absent"
        try:
            self._call("head_object", key, Key=name)
        except BlobNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        """:returns: the blob's size in bytes. :raises BlobNotFoundError: no such blob."""
        return int(self._call("head_object", key, Key=self._object(key))["ContentLength"])

    def verify(self, key: str) -> bool:
        """:returns: whether the blob still hashes to its key.

        :raises BlobNotFoundError: no such blob.
        """
        response = self._call("get_object", key, Key=self._object(key))
        body = response["Body"]
        try:
            digest, _size = sha256_of(body)
        finally:
            body.close()
        return digest == key

    def intact(self, key: str) -> bool:
        """:meth:`verify` (an object's metadata proves nothing about its bytes here).

        :raises BlobNotFoundError: no such blob.
        """
        return self.verify(key)

    def delete(self, key: str) -> None:
        """Remove a blob (retention and clean-up only); absent is fine."""
        self._call("delete_object", key, Key=self._object(key))

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """Download the blob to a local temporary file, checked against its key, and
        remove it after the block.

        :raises BlobNotFoundError: no such blob.
        :raises BlobCorruptError: the downloaded bytes do not hash to the key.
        """
        path = self.new_temp_path(".blob")
        try:
            with self.open(key) as source, path.open("wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
            path.chmod(0o400)
            yield path
        finally:
            path.unlink(missing_ok=True)

    # --- staging -----------------------------------------------------------------------

    def new_temp_path(self, suffix: str = "") -> Path:
        """:returns: a fresh, empty local temporary file."""
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
        """Upload staged content under its key (write-once); the staged file is removed
        whatever happens. Once this returns, the object store has acknowledged the
        whole object, and a row that refers to it can be committed.

        :returns: the key.
        """
        key = staged.sha256
        try:
            if not self.exists(key):
                if staged.size > MULTIPART_THRESHOLD:
                    self._put_in_parts(staged)
                else:
                    self._put_whole(staged)
        finally:
            staged.path.unlink(missing_ok=True)
        return key

    def discard(self, staged: StagedBlob) -> None:
        """Remove a staged file that will not be published."""
        staged.path.unlink(missing_ok=True)

    # --- clean-up (storage.cleanup) ----------------------------------------------------

    def temporaries(self) -> Iterator[StoredFile]:
        """:returns: every local temporary file (staged uploads, downloaded copies)."""
        for path in self.tmp.iterdir():
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            yield StoredFile(path.name, datetime.fromtimestamp(info.st_mtime, UTC), info.st_size)

    def remove_temporary(self, name: str) -> bool:
        """Remove the local temporary file ``name``. :returns: whether it was there."""
        try:
            (self.tmp / Path(name).name).unlink()
        except FileNotFoundError:
            return False
        return True

    def blobs(self) -> Iterator[StoredFile]:
        """:returns: every object under the prefix named like a blob, with its
        ``LastModified``. (Publishing content already stored does not refresh it here:
        the clean-up's grace period is the only protection of such a blob.)"""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self.location.prefix
        )
        for page in pages:
            for item in page.get("Contents", ()):
                name = str(item["Key"]).rsplit("/", 1)[-1]
                if _KEY_NAME.fullmatch(name):
                    yield StoredFile(name, item["LastModified"], int(item["Size"]))

    def modified(self, key: str) -> datetime | None:
        """:returns: the object's ``LastModified`` (None: absent)."""
        try:
            head = self._call("head_object", key, Key=self._object(key))
        except BlobNotFoundError:
            return None
        moment: datetime = head["LastModified"]
        return moment

    def _put_whole(self, staged: StagedBlob) -> None:
        with staged.path.open("rb") as body:
            try:
                self._call(
                    "put_object",
                    staged.sha256,
                    Key=self._object(staged.sha256),
                    Body=body,
                    ContentLength=staged.size,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=_b64(staged.sha256),
                    IfNoneMatch="*",
                )
            except BlobStoreUnavailableError as exc:
                if _code(exc.__cause__ or exc) not in _ALREADY_THERE:
                    raise  # else: put meanwhile by another request, the same bytes

    def _put_in_parts(self, staged: StagedBlob) -> None:
        key = staged.sha256
        name = self._object(key)
        upload = self._call("create_multipart_upload", key, Key=name, ChecksumAlgorithm="SHA256")[
            "UploadId"
        ]
        try:
            parts = []
            for number, offset in enumerate(range(0, staged.size, PART_SIZE), start=1):
                length = min(PART_SIZE, staged.size - offset)
                with staged.path.open("rb") as f:
                    f.seek(offset)
                    part_digest = hashlib.sha256()
                    left = length
                    while left and (chunk := f.read(min(CHUNK, left))):
                        part_digest.update(chunk)
                        left -= len(chunk)
                checksum = base64.b64encode(part_digest.digest()).decode("ascii")
                with _Slice(staged.path, offset, length) as body:
                    done = self._call(
                        "upload_part",
                        key,
                        Key=name,
                        UploadId=upload,
                        PartNumber=number,
                        Body=body,
                        ContentLength=length,
                        ChecksumSHA256=checksum,
                    )
                parts.append(
                    {"PartNumber": number, "ETag": done["ETag"], "ChecksumSHA256": checksum}
                )
            try:
                self._call(
                    "complete_multipart_upload",
                    key,
                    Key=name,
                    UploadId=upload,
                    MultipartUpload={"Parts": parts},
                    IfNoneMatch="*",
                )
            except BlobStoreUnavailableError as exc:
                if _code(exc.__cause__ or exc) not in _ALREADY_THERE:
                    raise
                self._abort(key, name, upload)
        except BaseException:
            self._abort(key, name, upload)
            raise

    def _abort(self, key: str, name: str, upload: str) -> None:
        with contextlib.suppress(BlobStoreUnavailableError, BlobNotFoundError):
            self._call("abort_multipart_upload", key, Key=name, UploadId=upload)
