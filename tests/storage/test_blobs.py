"""The content-addressed, write-once blob store."""

from __future__ import annotations

import hashlib
import io
import stat
from pathlib import Path

import pytest

from storage.blobs import FilesystemBlobStore
from storage.errors import BlobNotFoundError, BlobTooLargeError


def test_stage_and_publish_is_content_addressed(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    data = b"%PDF-1.7 hello" * 100_000
    staged = store.stage(io.BytesIO(data))
    assert staged.sha256 == hashlib.sha256(data).hexdigest() and staged.size == len(data)
    sha = store.publish(staged)
    path = store.path(sha)
    assert path.read_bytes() == data
    assert path.relative_to(tmp_path / "blobs").parts[:2] == (sha[:2], sha[2:4])
    assert not stat.S_IMODE(path.stat().st_mode) & 0o222  # write-once: read-only
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


def test_publishing_the_same_content_twice_keeps_one_file(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    a = store.publish(store.stage(io.BytesIO(b"same")))
    b = store.publish(store.stage(io.BytesIO(b"same")))
    assert a == b
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


def test_over_the_limit_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    with pytest.raises(BlobTooLargeError):
        store.stage(io.BytesIO(b"x" * 5000), limit=4096)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_failing_stream_leaves_no_temporary_file(tmp_path: Path) -> None:
    class Broken(io.BytesIO):
        calls = 0

        def read(self, size: int | None = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise ConnectionResetError("client went away")
            return b"data"

    store = FilesystemBlobStore(tmp_path)
    with pytest.raises(ConnectionResetError):
        store.stage(Broken())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_paths_only_for_hex_digests(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    with pytest.raises(BlobNotFoundError):
        store.path("../../etc/passwd")
    assert not store.exists("0" * 64)
