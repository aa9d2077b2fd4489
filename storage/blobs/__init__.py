"""storage: the content-addressed, write-once blob store: keys and streams, not paths.

``base`` holds the interface every backend implements (:class:`BlobStore`),
``filesystem`` the local backend (the embedded default) and ``s3`` the S3-compatible one;
:func:`open_blob_store` picks one from a URL (``file:///srv/blobs``, ``s3://bucket/prefix``).
"""

from pathlib import Path
from urllib.parse import unquote, urlsplit

from storage.blobs.base import CHUNK, BlobStore, StagedBlob, StoredFile, check_key, sha256_of
from storage.blobs.filesystem import FilesystemBlobStore
from storage.blobs.s3 import S3BlobStore, S3Config, S3Location


def open_blob_store(url: str, *, tmp: Path, s3: S3Config | None = None) -> BlobStore:
    """:param url: ``file:///absolute/folder`` or ``s3://bucket[/prefix]``.
    :param tmp: a local folder for staged content of a remote backend.
    :param s3: how to reach the object store (``s3://`` only).
    :raises ValueError: an unknown scheme or a malformed URL.
    """
    scheme = urlsplit(url).scheme
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"a file:// blob URL needs an absolute path, got {url!r}")
        return FilesystemBlobStore(Path(unquote(parts.path)))
    if scheme == "s3":
        return S3BlobStore(S3Location.parse(url), (s3 or S3Config()).client(), tmp)
    raise ValueError(f"blob store URL must be file:// or s3://, got {url!r}")


__all__ = [
    "CHUNK",
    "BlobStore",
    "FilesystemBlobStore",
    "S3BlobStore",
    "S3Config",
    "S3Location",
    "StagedBlob",
    "StoredFile",
    "check_key",
    "open_blob_store",
    "sha256_of",
]
