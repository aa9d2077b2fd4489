"""The blob store: a conformance suite every backend passes, then the filesystem's own.

The suite speaks only the :class:`~storage.blobs.BlobStore` interface. What it cannot
do through the interface (list everything the backend holds, temporary files
included; damage a blob; tell whether a blob was rewritten; make the final step of a
put fail) each backend's :class:`Backend` harness does. A second backend adds one
harness to ``BACKENDS``.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import stat
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from storage.blobs import CHUNK, BlobStore, FilesystemBlobStore, S3BlobStore, StagedBlob, filesystem
from storage.blobs.s3 import S3Location
from storage.errors import (
    BlobCorruptError,
    BlobNotFoundError,
    BlobTooLargeError,
    InvalidBlobKeyError,
)
from tests.servers import ObjectStore


@dataclass
class Backend:
    """A store under test and the backend-specific means to inspect and damage it."""

    store: BlobStore
    leftovers: Callable[[], set[str]]
    """Everything the backend holds: blobs, staged and temporary objects."""
    corrupt: Callable[[str], None]
    """Change one byte of a stored blob behind the store's back."""
    identity: Callable[[str], object]
    """Something that changes whenever the blob under a key is written."""
    break_publishing: Callable[[pytest.MonkeyPatch], None]
    """Make the final step of a put (the blob appearing under its key) fail."""


def filesystem_backend(tmp_path: Path) -> Backend:
    root = tmp_path / "blobs"
    store = FilesystemBlobStore(root)

    def leftovers() -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

    def corrupt(key: str) -> None:
        with store.local_copy(key) as path:  # the filesystem backend's own file
            path.chmod(0o640)
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))

    def identity(key: str) -> object:
        # The inode: a write makes a new file. (Publishing stored content again refreshes
        # the blob's mtime, on purpose: the clean-up then leaves it alone.)
        with store.local_copy(key) as path:
            return path.stat().st_ino

    def break_publishing(monkeypatch: pytest.MonkeyPatch) -> None:
        def link(*_args: Any, **_kw: Any) -> None:
            raise OSError(errno.EIO, "I/O error")

        monkeypatch.setattr(os, "link", link)

    return Backend(store, leftovers, corrupt, identity, break_publishing)


def s3_backend(tmp_path: Path, server: ObjectStore, client: Any) -> Backend:
    """A fresh versioned bucket on the S3 server (versions tell a rewrite apart)."""
    bucket = f"blobs-{tmp_path.name.lower().replace('_', '-')[-40:]}-{os.urandom(3).hex()}"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    store = S3BlobStore(S3Location(bucket, "trinhky/"), client, tmp_path / "staging")

    def leftovers() -> set[str]:
        objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        local = {f"local:{p.name}" for p in store.tmp.iterdir()}
        return {o["Key"] for o in objects} | {f"upload:{u['Key']}" for u in uploads} | local

    def name(key: str) -> str:
        return f"trinhky/{key[:2]}/{key[2:4]}/{key}"

    def corrupt(key: str) -> None:
        data = bytearray(client.get_object(Bucket=bucket, Key=name(key))["Body"].read())
        data[len(data) // 2] ^= 0x01
        client.put_object(Bucket=bucket, Key=name(key), Body=bytes(data))

    def identity(key: str) -> object:
        return client.head_object(Bucket=bucket, Key=name(key))["VersionId"]

    def break_publishing(monkeypatch: pytest.MonkeyPatch) -> None:
        def unreachable(*_args: Any, **_kw: Any) -> None:
            raise EndpointConnectionError(endpoint_url=server.endpoint)

        for operation in ("put_object", "upload_part", "complete_multipart_upload"):
            monkeypatch.setattr(client, operation, unreachable)

    return Backend(store, leftovers, corrupt, identity, break_publishing)


BACKENDS = ("filesystem", "s3")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "s3":
        server = request.getfixturevalue("object_store")
        return s3_backend(tmp_path, server, request.getfixturevalue("s3_client"))
    return filesystem_backend(tmp_path)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- content addressing and reading ----------------------------------------------------


def test_put_returns_the_sha256_and_the_blob_reads_back(backend: Backend) -> None:
    store = backend.store
    data = b"%PDF-1.7 hello " * 100_000  # 1.5 MB: more than one chunk
    key = store.put(io.BytesIO(data))
    assert key == sha(data)
    assert store.exists(key) and store.size(key) == len(data)
    assert store.read_bytes(key) == data
    with store.open(key) as f:
        assert f.read(10) == data[:10]
        assert f.read() == data[10:]
    assert store.verify(key)


def test_put_bytes_is_put_of_a_stream(backend: Backend) -> None:
    key = backend.store.put_bytes(b"\x89PNG seal")
    assert key == sha(b"\x89PNG seal") == backend.store.put(io.BytesIO(b"\x89PNG seal"))
    assert backend.store.read_bytes(key) == b"\x89PNG seal"


def test_an_empty_blob_is_a_blob(backend: Backend) -> None:
    key = backend.store.put_bytes(b"")
    assert key == sha(b"") and backend.store.size(key) == 0 and backend.store.read_bytes(key) == b""


def test_same_content_twice_is_one_blob_and_is_not_rewritten(backend: Backend) -> None:
    store = backend.store
    before = backend.leftovers()
    key = store.put_bytes(b"same")
    first = backend.identity(key)
    assert store.put(io.BytesIO(b"same")) == key
    assert backend.identity(key) == first  # write-once: the existing blob is left alone
    assert len(backend.leftovers() - before) == 1


def test_concurrent_puts_of_one_content_publish_it_once(backend: Backend) -> None:
    data = os.urandom(3 * CHUNK)
    keys: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def put() -> None:
        start.wait()
        try:
            keys.append(backend.store.put(io.BytesIO(data)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and keys == [sha(data)] * 8
    assert len(backend.leftovers()) == 1 and backend.store.read_bytes(keys[0]) == data


# --- atomicity ---------------------------------------------------------------------------


class FailingStream(io.RawIOBase):
    """Yields a few chunks, then raises ``error`` (a client that goes away)."""

    def __init__(self, error: BaseException, chunks: int = 3) -> None:
        self.error, self.left = error, chunks

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left == 0:
            raise self.error
        self.left -= 1
        n = min(len(buffer), 64 * 1024)
        buffer[:n] = b"x" * n
        return n


@pytest.mark.parametrize(
    "error",
    [ConnectionResetError("client went away"), KeyboardInterrupt()],
    ids=["failed", "aborted"],
)
def test_a_put_that_fails_midway_leaves_nothing(backend: Backend, error: BaseException) -> None:
    backend.store.put_bytes(b"already there")
    before = backend.leftovers()
    with pytest.raises(type(error)):
        backend.store.put(io.BufferedReader(FailingStream(error)))
    assert backend.leftovers() == before  # no partial blob, no temporary file


def test_a_put_whose_publication_fails_leaves_nothing(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"%PDF-1.7 signed " * 1000
    before = backend.leftovers()
    backend.break_publishing(monkeypatch)
    with pytest.raises(OSError):
        backend.store.put(io.BytesIO(data))
    monkeypatch.undo()
    assert backend.leftovers() == before
    assert not backend.store.exists(sha(data))


def test_over_the_limit_leaves_nothing(backend: Backend) -> None:
    with pytest.raises(BlobTooLargeError) as caught:
        backend.store.stage(io.BytesIO(b"x" * 5000), limit=4096)
    assert caught.value.limit == 4096
    assert backend.leftovers() == set()


def test_staged_content_is_checked_then_published_or_discarded(backend: Backend) -> None:
    store = backend.store
    staged = store.stage(io.BytesIO(b"%PDF-1.7 upload"), limit=4096)
    assert (staged.sha256, staged.size) == (sha(b"%PDF-1.7 upload"), 15)
    assert staged.path.read_bytes() == b"%PDF-1.7 upload"  # a local file for pyHanko
    assert not store.exists(staged.sha256)  # not a blob until published
    store.discard(staged)
    store.discard(staged)  # idempotent
    assert backend.leftovers() == set()

    staged = store.stage(io.BytesIO(b"%PDF-1.7 upload"))
    assert store.publish(staged) == staged.sha256
    assert store.read_bytes(staged.sha256) == b"%PDF-1.7 upload"
    assert not staged.path.exists() and len(backend.leftovers()) == 1


def test_a_tool_output_is_staged_from_a_temporary_file(backend: Backend) -> None:
    store = backend.store
    out = store.new_temp_path(".pdf")
    assert out.suffix == ".pdf" and out.read_bytes() == b""
    out.write_bytes(b"%PDF-1.7 signed by pyHanko")
    staged: StagedBlob = store.stage_file(out)
    assert staged.sha256 == sha(b"%PDF-1.7 signed by pyHanko")
    key = store.publish(staged)
    assert store.read_bytes(key) == b"%PDF-1.7 signed by pyHanko"
    assert not out.exists() and len(backend.leftovers()) == 1  # the blob alone


# --- streaming ---------------------------------------------------------------------------

BIG = 50 * 1024 * 1024


def blocks(total: int) -> Iterator[bytes]:
    """``total`` bytes of varied content, 64 KiB at a time, never held whole."""
    for i in range(total // (64 * 1024)):
        yield hashlib.sha256(i.to_bytes(8, "big")).digest() * 2048


class GeneratedStream(io.RawIOBase):
    """A readable stream over a generator of blocks."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self.source, self.pending = source, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.pending:
            self.pending = next(self.source, b"")
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


def test_a_large_stream_is_stored_and_verified_without_holding_it(backend: Backend) -> None:
    expected = hashlib.sha256()
    for block in blocks(BIG):
        expected.update(block)
    tracemalloc.start()
    try:
        key = backend.store.put(io.BufferedReader(GeneratedStream(blocks(BIG))))
        _current, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert backend.store.verify(key)
        _current, verify_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert key == expected.hexdigest() and backend.store.size(key) == BIG
    # A few chunks at most, against 50 MB of content.
    assert put_peak < 4 * CHUNK, put_peak
    assert verify_peak < 4 * CHUNK, verify_peak


# --- keys: missing, invalid --------------------------------------------------------------


def enter_local_copy(store: BlobStore, key: str) -> None:
    with store.local_copy(key):
        pass


READERS: dict[str, Callable[[BlobStore, str], object]] = {
    "open": lambda s, k: s.open(k).close(),
    "read_bytes": lambda s, k: s.read_bytes(k),
    "size": lambda s, k: s.size(k),
    "verify": lambda s, k: s.verify(k),
    "intact": lambda s, k: s.intact(k),
    "local_copy": enter_local_copy,
}


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_a_missing_blob_is_a_typed_error(backend: Backend, read: Any) -> None:
    key = sha(b"never stored")
    with pytest.raises(BlobNotFoundError) as caught:
        read(backend.store, key)
    assert type(caught.value) is BlobNotFoundError and caught.value.key == key
    assert not backend.store.exists(key)
    backend.store.delete(key)  # tolerant of absence


BAD_KEYS = [
    "../../etc/passwd",
    "../victim",
    "a" * 63,
    "a" * 65,
    "A" * 64,  # keys are lower case: one blob, one spelling
    "a" * 64 + "\n",
    " " + "a" * 63,
    "g" * 64,
    "ab/cd/" + "a" * 58,
    "",
]
EVERY_METHOD: dict[str, Callable[[BlobStore, str], object]] = {
    **READERS,
    "exists": lambda s, k: s.exists(k),
    "delete": lambda s, k: s.delete(k),
}


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("method", EVERY_METHOD.values(), ids=EVERY_METHOD.keys())
def test_invalid_keys_are_refused_by_every_method(
    backend: Backend, tmp_path: Path, key: str, method: Any
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"not a blob")
    with pytest.raises(InvalidBlobKeyError):
        method(backend.store, key)
    assert victim.read_bytes() == b"not a blob"


# --- integrity, local copies, deletion ---------------------------------------------------


def test_verify_detects_a_corrupted_blob(backend: Backend) -> None:
    key = backend.store.put_bytes(b"%PDF-1.7 issued document " * 50)
    backend.corrupt(key)
    assert backend.store.exists(key)
    assert not backend.store.verify(key)


def test_intact_detects_a_corrupted_blob(backend: Backend) -> None:
    key = backend.store.put_bytes(b"%PDF-1.7 issued document " * 50)
    assert backend.store.intact(key)
    backend.corrupt(key)
    assert not backend.store.intact(key)


def test_local_copy_is_a_file_with_the_content_for_the_block_only(backend: Backend) -> None:
    data = b"%PDF-1.7 for pdftoppm " * 1000
    key = backend.store.put_bytes(data)
    before = backend.leftovers()
    with backend.store.local_copy(key) as path:
        assert path.is_file() and path.read_bytes() == data
    with pytest.raises(RuntimeError), backend.store.local_copy(key) as path:
        raise RuntimeError("pdftoppm failed")
    assert backend.leftovers() == before  # a downloaded copy would be gone again
    assert backend.store.read_bytes(key) == data


def test_delete_removes_a_blob_and_tolerates_absence(backend: Backend) -> None:
    key = backend.store.put_bytes(b"expired")
    backend.store.delete(key)
    assert not backend.store.exists(key)
    with pytest.raises(BlobNotFoundError):
        backend.store.read_bytes(key)
    backend.store.delete(key)
    assert backend.leftovers() == set()
    assert backend.store.put_bytes(b"expired") == key  # and it can come back


# --- the S3 backend's own promises ------------------------------------------------------


@pytest.fixture
def s3(tmp_path: Path, object_store: ObjectStore, s3_client: Any) -> Backend:
    return s3_backend(tmp_path, object_store, s3_client)


def test_s3_reads_recheck_the_content_against_the_key(s3: Backend) -> None:
    key = s3.store.put_bytes(b"%PDF-1.7 issued " * 5000)
    s3.corrupt(key)  # changed behind the store's back (a bad disk, a rewrite)
    with pytest.raises(BlobCorruptError):
        s3.store.read_bytes(key)
    with pytest.raises(BlobCorruptError), s3.store.local_copy(key):
        pass
    assert not any(name.startswith("local:") for name in s3.leftovers())


def test_s3_large_blobs_go_up_in_parts_each_checked(
    s3: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(s3.store, S3BlobStore)
    calls: list[dict[str, Any]] = []
    upload_part = s3.store.client.upload_part

    def spy(**kw: Any) -> Any:
        calls.append({k: v for k, v in kw.items() if k != "Body"})
        return upload_part(**kw)

    monkeypatch.setattr(s3.store.client, "upload_part", spy)
    data = os.urandom(20 * 1024 * 1024)
    key = s3.store.put(io.BytesIO(data))
    assert [c["PartNumber"] for c in calls] == [1, 2, 3]
    assert all(c["ChecksumSHA256"] for c in calls)
    assert s3.store.read_bytes(key) == data and s3.store.size(key) == len(data)
    assert {n for n in s3.leftovers() if not n.startswith("trinhky/")} == set()


def test_s3_objects_carry_their_sha256_for_the_server_to_check(s3: Backend) -> None:
    store = s3.store
    assert isinstance(store, S3BlobStore)
    key = store.put_bytes(b"%PDF-1.7 checked on arrival")
    head = store.client.head_object(
        Bucket=store.location.bucket,
        Key=f"trinhky/{key[:2]}/{key[2:4]}/{key}",
        ChecksumMode="ENABLED",
    )
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == key


def test_s3_an_unreachable_store_is_an_os_error_without_secrets(
    tmp_path: Path, object_store: ObjectStore
) -> None:
    config = object_store.config()
    dead = ObjectStore("http://127.0.0.1:9", config.access_key_id, config.secret_access_key)
    store = S3BlobStore(S3Location("nowhere"), dead.config().client(), tmp_path)
    with pytest.raises(OSError) as caught:
        store.put_bytes(b"x")
    assert config.secret_access_key not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# --- the filesystem backend's own promises -----------------------------------------------


def test_filesystem_layout_is_ab_cd_key_and_read_only(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FilesystemBlobStore(root)
    key = store.put_bytes(b"%PDF-1.7 hello")
    path = root / key[:2] / key[2:4] / key
    assert path.read_bytes() == b"%PDF-1.7 hello"
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222  # write-once: read-only
    assert list((root / "tmp").iterdir()) == []
    with store.local_copy(key) as local:
        assert local == path  # its own file, no copy


def test_filesystem_publishes_by_rename_where_links_are_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def link(*_args: Any, **_kw: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", link)
    store = FilesystemBlobStore(tmp_path)
    key = store.put_bytes(b"on a share without hard links")
    assert store.read_bytes(key) == b"on a share without hard links"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_filesystem_stages_only_its_own_temporary_files(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    elsewhere = tmp_path / "elsewhere.pdf"
    elsewhere.write_bytes(b"%PDF")
    with pytest.raises(ValueError, match="not a temporary file"):
        store.stage_file(elsewhere)
    assert elsewhere.exists()


def test_the_cleanup_sees_blobs_and_temporary_files(backend: Backend) -> None:
    """What storage.cleanup lists and removes, on every backend."""
    store = backend.store
    key = store.put_bytes(b"listed for the clean-up")
    listed = {f.name: f for f in store.blobs()}
    assert key in listed and listed[key].size == len(b"listed for the clean-up")
    modified = store.modified(key)
    assert modified is not None and modified.tzinfo is not None
    assert store.modified(sha(b"never stored")) is None
    temporary = store.new_temp_path(".part")
    temporary.write_bytes(b"half")
    assert temporary.name in {f.name for f in store.temporaries()}
    assert store.remove_temporary(temporary.name) and not temporary.exists()
    assert not store.remove_temporary(temporary.name)


def test_filesystem_rehashes_only_a_file_that_may_have_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``intact`` remembers a re-hash of a settled file while the file stays the same;
    any write shows in its status-change time, even with the size and mtime restored."""
    monkeypatch.setattr(filesystem, "SETTLED_SECONDS", 0.05)
    store = FilesystemBlobStore(tmp_path / "blobs")
    rehashed: list[str] = []
    verify = store.verify
    monkeypatch.setattr(store, "verify", lambda key: rehashed.append(key) or verify(key))
    key = store.put_bytes(b"%PDF-1.7 issued document " * 500)

    assert store.intact(key) and store.intact(key)
    assert len(rehashed) == 2  # changed 0.05 s ago or less: not vouched for yet
    time.sleep(0.1)
    assert store.intact(key) and store.intact(key) and store.intact(key)
    assert len(rehashed) == 3  # settled: one re-hash, then the same file

    with store.local_copy(key) as path:  # changed behind the store's back, times restored
        before = path.stat()
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.chmod(0o640)
        path.write_bytes(bytes(data))
        path.chmod(0o400)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_size == before.st_size
    assert not store.intact(key) and not store.intact(key)
    assert len(rehashed) == 5  # never remembered while broken

    other = store.put_bytes(b"%PDF-1.7 another document " * 500)
    time.sleep(0.1)
    monkeypatch.setattr(filesystem, "VERIFIED_FOR_SECONDS", 0.0)
    assert store.intact(other) and store.intact(other)
    assert rehashed[-2:] == [other, other]  # a re-hash vouches for a limited time only
